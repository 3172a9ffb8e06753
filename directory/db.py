"""Engine and sessions: one engine per app, a session per unit of work."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager

from flask import Flask, current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, create_engine

# SQLite reads the database through a memory map of up to this many megabytes (PRAGMA mmap_size;
# SQLite caps it at its build's limit, 2 GB for Python's). A search reads its 20 cards from
# tables of a million rows: through read() calls and SQLite's own 2 MB page cache that was a fifth
# of the request (1M listings: 0.95 -> 0.79 ms for the rest of a search request, in-process).
DEFAULT_SQLITE_MMAP_MB = 2048


def make_engine(url: str, sqlite_mmap_mb: int = DEFAULT_SQLITE_MMAP_MB) -> Engine:
    """Create an engine; SQLite gets foreign keys on, WAL, a busy timeout for several workers and
    reads through a memory map of `sqlite_mmap_mb` (0: none)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA mmap_size={int(sqlite_mmap_mb) * 1024 * 1024}")
            cursor.close()

        return engine
    # JIT compiling pays off for long analytic queries; ours are short, and at a million listings the
    # planner's cost estimate would switch it on and add tens of milliseconds of compiling.
    # Custom plans always: psycopg prepares a statement run five times, and PostgreSQL may then
    # plan it once for any parameters. A search's plan depends on them (how many places are in the
    # radius, how common a specialty is); a generic plan read a whole table where an index took 30 ms.
    return create_engine(url, pool_pre_ping=True,
                         connect_args={"options": "-c jit=off -c plan_cache_mode=force_custom_plan"})


def get_engine(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions["directory.engine"]


@contextmanager
def session_scope(app: Flask | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(get_engine(app), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def request_session() -> Session:
    """The request's one database session, opened on first use and closed when the request ends."""
    if "db_session" not in g:
        g.db_session = Session(get_engine(), expire_on_commit=False)
    return g.db_session


def _close_request_session(_error: BaseException | None) -> None:
    db = g.pop("db_session", None)
    if db is not None:
        db.close()


def init_app(app: Flask) -> None:
    app.extensions["directory.engine"] = make_engine(app.config["DATABASE_URL"],
                                                     app.config.get("SQLITE_MMAP_MB", DEFAULT_SQLITE_MMAP_MB))
    app.teardown_appcontext(_close_request_session)


def driver_rows(conn: Connection, sql: str, params: Sequence) -> list[tuple]:
    """The rows of one read statement run on the driver's own cursor of `conn`: `sql` uses `?` for
    its parameters (rewritten to `%s` for drivers of the format style, e.g. psycopg; it must hold
    no other `?` or `%`). For the statements of every search request, where SQLAlchemy's execution
    and result rows cost several times what the database takes to answer (a page of cards at 1M,
    with its Python around: 600 against 190-240 us). Values come back as the driver gives them
    (SQLite: dates as text)."""
    if conn.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    with closing(conn.connection.dbapi_connection.cursor()) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
