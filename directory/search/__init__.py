"""The search seam: one `Searcher` interface, backends chosen by configuration (SEARCH_BACKEND)."""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod

from flask import Flask, current_app

from directory.search.documents import ListingDoc
from directory.search.engine import Hit, SearchResult
from directory.search.query import QueryError, SearchQuery

__all__ = ["Hit", "QueryError", "SearchQuery", "SearchResult", "Searcher", "get_searcher"]


class Searcher(ABC):
    """A derived, rebuildable index of listings. The database stays the source of truth."""

    name: str

    @abstractmethod
    def search(self, query: SearchQuery) -> SearchResult:
        """Ranked hits (listing ids, miles, scores), the total and facet counts."""

    @abstractmethod
    def update(self, docs: dict[int, ListingDoc | None]) -> None:
        """Write these documents; a None value removes that listing from the index."""

    @abstractmethod
    def clear(self) -> None:
        """Remove every document."""

    def writing(self) -> contextlib.AbstractContextManager:
        """Held while pending changes are read, turned into documents and written, so that two
        processes never write an older document over a newer one (no-op by default)."""
        return contextlib.nullcontext()

    def refresh(self) -> None:  # noqa: B027  (optional for backends)
        """Pick up changes committed by other processes (no-op by default)."""

    def close(self) -> None:  # noqa: B027
        """Release files and connections."""

    @abstractmethod
    def indexed_digests(self) -> dict[int, str]:
        """Listing id -> digest of the document the index holds (for check-index)."""

    def derived_drift(self) -> list[str]:
        """Structures this backend keeps up by deltas that no longer equal a count made afresh
        from its own rows (empty when all agree; a check for `check-index`)."""
        return []

    def table_ids(self) -> set[int] | None:
        """Listing ids of a second structure that must agree with the documents (None: no such
        structure)."""
        return None


def _whoosh(app: Flask) -> Searcher:
    from directory.search.whoosh_backend import WhooshSearcher

    return WhooshSearcher(app.config["INDEX_DIR"], app.extensions["directory.engine"])


def _postgres(app: Flask) -> Searcher:
    from directory.search.pg_backend import PostgresSearcher

    return PostgresSearcher(app.extensions["directory.engine"])


BACKENDS = {"whoosh": _whoosh, "postgres": _postgres}


def rebuild_index(app: Flask, progress=None) -> int:
    """Rebuild the configured backend's index from the database; returns listings indexed."""
    from directory.search.sync import reindex

    engine = app.extensions["directory.engine"]
    if app.config["SEARCH_BACKEND"] == "postgres":
        from directory.search.pg_tables import rebuild

        count = rebuild(engine, progress=progress)
    else:
        count = reindex(engine, app.config["INDEX_DIR"], progress=progress)
    searcher = app.extensions.get("directory.searcher")
    if searcher is not None:
        searcher.refresh()
    return count


def init_app(app: Flask) -> None:
    backend = app.config["SEARCH_BACKEND"]
    if backend not in BACKENDS:
        raise RuntimeError(f"SEARCH_BACKEND must be one of {sorted(BACKENDS)}, not {backend!r}")
    if backend == "postgres" and not app.config["DATABASE_URL"].startswith("postgresql"):
        raise RuntimeError("SEARCH_BACKEND=postgres needs a PostgreSQL DATABASE_URL "
                           "(postgresql+psycopg://user@host:5432/dbname)")
    app.extensions["directory.searcher"] = None


_opening = threading.Lock()


def get_searcher(app: Flask | None = None) -> Searcher:
    """The app's searcher, opened on first use (so CLI commands that do not search stay fast).

    Opening applies any index change left pending by a crash between a commit and its index write.
    """
    app = app or current_app._get_current_object()
    searcher = app.extensions.get("directory.searcher")
    if searcher is None:
        with _opening:
            searcher = app.extensions.get("directory.searcher")
            if searcher is None:
                from directory.search.sync import apply_pending

                searcher = BACKENDS[app.config["SEARCH_BACKEND"]](app)
                apply_pending(app.extensions["directory.engine"], searcher)
                app.extensions["directory.searcher"] = searcher
    return searcher
