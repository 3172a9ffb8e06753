"""Serve only from a database whose schema is the one this code was written for.

A deployment that runs new code before `flask --app wsgi init-db` (which upgrades the schema)
would otherwise answer some pages and fail others with 500s from a missing column. Instead every
request but static files answers 503 with Retry-After, `/healthz` included so that a load balancer
notices, and the log says once per process what to run. The database is asked once per process
while all is well (one query, at the first request), and at every request while it is not, so the
service recovers by itself as soon as the upgrade is done.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.exceptions import ServiceUnavailable

from directory import migrate
from directory.db import get_engine

RETRY_AFTER_S = 60
STATE = "directory.schema_state"  # app.extensions key: "ok", or the last mismatch logged


class SchemaNotCurrent(ServiceUnavailable):
    """The database's schema is not this code's (not migrated, behind, or ahead of it)."""

    def __init__(self):
        super().__init__("The directory is being upgraded. Please try again in a few minutes.",
                         retry_after=RETRY_AFTER_S)


def mismatch(current: str | None, head: str) -> str | None:
    """What is wrong, for the log, or None when the database is at the code's head."""
    if current == head:
        return None
    if current is None:
        return (f"the database has no schema yet; this code needs revision {head}: "
                "run `flask --app wsgi init-db`")
    return (f"the database schema is at revision {current} but this code needs {head}: "
            "run `flask --app wsgi init-db` to upgrade it (or deploy the code that matches it)")


def _check_schema() -> None:
    app = current_app
    if app.extensions.get(STATE) == "ok" or request.endpoint == "static":
        return
    problem = mismatch(migrate.current_revision(get_engine()), migrate.head_revision())
    if problem is None:
        app.extensions[STATE] = "ok"
        return
    if app.extensions.get(STATE) != problem:
        app.extensions[STATE] = problem
        app.logger.error("Refusing requests (503): %s.", problem)
    raise SchemaNotCurrent()


def init_app(app: Flask) -> None:
    app.extensions[STATE] = None
    app.before_request(_check_schema)
