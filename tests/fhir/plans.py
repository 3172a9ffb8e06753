"""The statements a piece of code runs, and the plan the database makes for each (on PostgreSQL
told not to scan a table when it can do otherwise: test tables are tiny)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, text
from sqlalchemy.engine import Engine


@contextmanager
def statements_run(engine: Engine) -> Iterator[list[tuple[str, object]]]:
    """The (statement, parameters) the engine runs inside the block, in order."""
    statements: list[tuple[str, object]] = []

    def seen(conn, cursor, statement, params, context, many):
        statements.append((statement, params))
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def plans(engine: Engine, statements: list[tuple[str, object]]) -> list[str]:
    """Each statement's plan on one line (EXPLAIN on PostgreSQL, EXPLAIN QUERY PLAN on SQLite)."""
    postgres = engine.dialect.name == "postgresql"
    found = []
    with engine.connect() as conn:
        if postgres:
            conn.execute(text("SET enable_seqscan = off"))
        for statement, params in statements:
            explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
            rows = conn.exec_driver_sql(explain + statement, params).all()
            found.append(" ".join(str(row[0] if postgres else row[-1]) for row in rows))
    return found
