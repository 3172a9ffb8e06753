"""A consistent copy of the live database, safe while the service writes.

SQLite: `sqlite3.Connection.backup` (SQLite's online backup API) copies every page in one step from
one read transaction, so the copy is the database as of one moment: with WAL (see `directory.db`)
writers go on meanwhile and nothing they commit after that moment is in the copy.

PostgreSQL: use the server's own tools, which also read one snapshot:

    pg_dump -Fc -d "$DATABASE_URL" -f directory.dump          # (URL without "+psycopg")
    createdb NEWDB && pg_restore --no-owner -d NEWDB directory.dump

The search tables of the PostgreSQL backend are in the dump too; the Whoosh index is derived
(`flask --app wsgi reindex` rebuilds it from a restored database).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import Engine

PG_HINT = ("this database is PostgreSQL: copy it with pg_dump -Fc -d {url} -f FILE "
           "and restore with pg_restore --no-owner -d NEWDB FILE (see directory/backup.py)")


class BackupUnsupported(RuntimeError):
    """Not a SQLite database: the message says which tool to use instead."""


def libpq_url(engine: Engine) -> str:
    """The engine's URL as pg_dump and psql take it (no driver name), password hidden."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=True)


def backup(engine: Engine, target: str | Path) -> int:
    """Copy the live SQLite database of `engine` to `target` (replaced); returns its size in bytes."""
    if engine.dialect.name != "sqlite":
        raise BackupUnsupported(PG_HINT.format(url=libpq_url(engine)))
    target = Path(target)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(engine.url.database)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy)  # all pages in one step: one consistent snapshot
    finally:
        copy.close()
        source.close()
    partial.replace(target)  # the file at `target` is always a whole copy
    return target.stat().st_size
