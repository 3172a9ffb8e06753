"""Healing the index when it is opened: a missing, empty or damaged index is rebuilt from the
database (the same rebuild as `flask reindex`), with one WARNING line, and then served.

The rebuild happens when a process first opens its searcher (`get_searcher`), not in
`create_app`: every command builds the app, and most (init-db before the tables exist, exports,
imports) never search. A web worker opens it at its first request that searches; a command that
searches (check-index, an import, which writes to the index) at its start.

What counts as damaged is for each backend to say when it opens (`IndexUnusable`: the Whoosh
backend reads both ends of every segment and its snapshot; the PostgreSQL one checks its tables
and their layout). An index that is merely empty is healthy while every listing it lacks waits in
the outbox (a first start: applying the outbox fills it); with listings the outbox will not bring,
it is missing and is rebuilt.

Processes that find the index damaged at once take turns on a lock (a file beside the index, or a
PostgreSQL advisory lock); each looks again once it has the lock, so the first rebuilds and the
others open what it built. `rebuild_index` (the `reindex` command) takes the same lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path

from flask import Flask
from sqlalchemy import text

from directory.models import IndexChange, Listing
from directory.search import sync
from directory.search.contract import IndexUnusable, Searcher

# pg_advisory_lock key held while the index is rebuilt (the writers' key is another).
REBUILD_LOCK_KEY = 0x1F16_5EA3
REBUILD_LOCK_FILE = "rebuild.lock"
ADVICE = ": run `flask --app wsgi reindex`"

# Active listings with no pending change: ones an empty index should hold, which the outbox will not bring.
UNINDEXED = f"""
    SELECT count(*) FROM {Listing.__tablename__} l
    WHERE l.active AND NOT EXISTS (
        SELECT 1 FROM {IndexChange.__tablename__} c WHERE c.listing_id = l.id AND c.applied_at IS NULL)"""


def where(app: Flask) -> str:
    if app.config["SEARCH_BACKEND"] == "postgres":
        return "the PostgreSQL search tables"
    return f"the Whoosh index in {app.config['INDEX_DIR']}"


@contextlib.contextmanager
def rebuild_lock(app: Flask) -> Iterator[None]:
    """Held while the index is rebuilt: one rebuild at a time, across processes (and nodes, on
    PostgreSQL)."""
    if app.config["SEARCH_BACKEND"] == "postgres":
        with app.extensions["directory.engine"].connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": REBUILD_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": REBUILD_LOCK_KEY})
                conn.commit()
        return
    folder = Path(app.config["INDEX_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / REBUILD_LOCK_FILE, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def rebuild_index(app: Flask, progress: sync.Progress | None = None) -> int:
    """`sync.rebuild_index` under the rebuild lock (what `flask reindex` runs)."""
    with rebuild_lock(app):
        return sync.rebuild_index(app, progress)


def _reason(error: IndexUnusable) -> str:
    """The error's account of what is wrong, on one line, without the advice to reindex."""
    return " ".join(str(error).replace(ADVICE, "").split())


def _try_open(app: Flask) -> tuple[Searcher | None, str | None]:
    """The opened searcher, or None and what is wrong with the index."""
    try:
        searcher = app.extensions["directory.search.backend"](app)
    except IndexUnusable as error:
        return None, _reason(error)
    try:
        if searcher.is_empty():
            with app.extensions["directory.engine"].connect() as conn:
                unindexed = conn.execute(text(UNINDEXED)).scalar_one()
            if unindexed:
                searcher.close()
                return None, (f"{where(app)} is missing or empty while the database has {unindexed} "
                              f"searchable listings")
    except BaseException:
        searcher.close()
        raise
    return searcher, None


def open_searcher(app: Flask) -> Searcher:
    """The app's searcher, its index rebuilt first if it is missing, empty or damaged."""
    searcher, problem = _try_open(app)
    if searcher is not None:
        return searcher
    with rebuild_lock(app):
        searcher, problem = _try_open(app)  # another process may have rebuilt it while we waited
        if searcher is not None:
            return searcher
        started = time.perf_counter()
        count = sync.rebuild_index(app)
        app.logger.warning("%s; rebuilt the search index from the database: %d listings in %.1f s",
                           problem, count, time.perf_counter() - started)
    return app.extensions["directory.search.backend"](app)
