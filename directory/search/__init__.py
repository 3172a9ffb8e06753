"""The search seam: one `Searcher` contract, backends chosen by configuration (SEARCH_BACKEND).

`BACKENDS` maps each backend's name to its opener; a backend's package (`search/whoosh/`,
`search/postgres/`) is imported only when that backend is opened, so code that only records
index changes (the write services) never loads the other backend's libraries.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable

from flask import Flask, current_app

from directory.geo import zip_table
from directory.search.contract import Hit, IndexUnusable, Searcher, SearchResult, SnapshotFormatError
from directory.search.heal import open_searcher, rebuild_index
from directory.search.query import QueryError, SearchQuery
from directory.search.sync import apply_pending

__all__ = ["BACKENDS", "Hit", "IndexUnusable", "QueryError", "SearchQuery", "SearchResult", "Searcher",
           "SnapshotFormatError", "get_searcher", "rebuild_index"]

# An opener: opener(app) opens the backend's index for app; opener(app, rebuilding=True) opens it
# only to rebuild it (an index of another version is not refused).
Opener = Callable[..., Searcher]


def _whoosh(app: Flask, rebuilding: bool = False) -> Searcher:
    from directory.search.whoosh import WhooshSearcher

    return WhooshSearcher(app.config["INDEX_DIR"], app.extensions["directory.engine"], rebuilding)


def _postgres(app: Flask, rebuilding: bool = False) -> Searcher:
    from directory.search.postgres import PostgresSearcher

    return PostgresSearcher(app.extensions["directory.engine"], rebuilding)


BACKENDS: dict[str, Opener] = {"whoosh": _whoosh, "postgres": _postgres}


def init_app(app: Flask) -> None:
    backend = app.config["SEARCH_BACKEND"]
    if backend not in BACKENDS:
        raise RuntimeError(f"SEARCH_BACKEND must be one of {sorted(BACKENDS)}, not {backend!r}")
    if backend == "postgres" and not app.config["DATABASE_URL"].startswith("postgresql"):
        raise RuntimeError("SEARCH_BACKEND=postgres needs a PostgreSQL DATABASE_URL "
                           "(postgresql+psycopg://user@host:5432/dbname)")
    app.extensions["directory.search.backend"] = BACKENDS[backend]
    app.extensions["directory.searcher"] = None


_opening = threading.Lock()


def get_searcher(app: Flask | None = None) -> Searcher:
    """The app's searcher, opened on first use (so CLI commands that do not search stay fast).

    Opening rebuilds an index that is missing, empty or damaged (`heal`), then applies any index
    change left pending by a crash between a commit and its index write.
    """
    app = app or current_app._get_current_object()
    searcher = app.extensions.get("directory.searcher")
    if searcher is None:
        with _opening:
            searcher = app.extensions.get("directory.searcher")
            if searcher is None:
                searcher = open_searcher(app)
                apply_pending(app.extensions["directory.engine"], searcher)
                app.extensions["directory.searcher"] = searcher
                if app.config.get("ENV") == "production":
                    # The ZIP table is read now (about 1-2 s, apart: `geo.computed_apart`), and the
                    # searcher's arrays made at first use are made (Whoosh at 1M: 0.35 s), not by a
                    # patient's first search in this process.
                    zip_table()
                    searcher.warm()
                    # A serving process keeps its app and index for life: keep them out of the cyclic
                    # collector's full passes, which otherwise walk them all every few thousand
                    # allocations (100-140 ms pauses; a FHIR request's p99 112 -> 36-39 ms at 100k).
                    # Objects freed by reference count are freed as before; only cycles alive now
                    # are never collected, which is why a process opening many apps (tests,
                    # development) does not do this.
                    gc.freeze()
    return searcher
