"""Apps on either search backend, for the tests that must give the same answers on both.

- `whoosh`: a SQLite file and a Whoosh index in a temporary folder (no server needed).
- `postgres`: a throw-away PostgreSQL database (copied from a migrated template made once per test
  run, dropped at the end of the run) with SEARCH_BACKEND=postgres. Needs a server:
  TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test, trust auth) names a
  database whose user may create databases. Without one, these tests are skipped and say so,
  unless the environment variable CI is set (to anything but "", "0" or "false"): then they fail,
  so that a CI run never passes with the PostgreSQL half of the suite left out.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import NoReturn

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from directory import create_app
from directory.cli import init_db
from directory.db import get_engine

BACKENDS = ("whoosh", "postgres")
ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SKIP_REASON = (
    "no PostgreSQL at TEST_POSTGRES_URL={url} ({error}); start one (the README's test command "
    "uses the local server) or set TEST_POSTGRES_URL to a server whose user may create databases"
)


class PostgresServer:
    """Makes throw-away databases, each a copy of one migrated template."""

    def __init__(self, admin_url: str = ADMIN_URL):
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.base_url = admin_url.rsplit("/", 1)[0]
        self.run = uuid.uuid4().hex[:10]
        self.made: list[str] = []
        self._template: str | None = None
        with self.admin.connect() as conn:  # fails here when there is no server
            conn.execute(text("select 1"))

    def _create(self, name: str, template: str | None = None) -> str:
        clause = f' template "{template}"' if template else ""
        with self.admin.connect() as conn:
            conn.execute(text(f'create database "{name}"{clause}'))
        self.made.append(name)
        return f"{self.base_url}/{name}"

    def template(self) -> str:
        if self._template is None:
            name = f"ivig_tmpl_{self.run}"
            url = self._create(name)
            app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "template",
                              "SEARCH_BACKEND": "postgres", "INDEX_DIR": "/nonexistent"})
            with app.app_context():
                init_db()
                from directory.search import BACKENDS as OPENERS

                OPENERS["postgres"](app).close()  # opening the backend creates its tables
            get_engine(app).dispose()
            self._template = name
        return self._template

    def database(self) -> str:
        """A new database, migrated, with empty search tables."""
        return self._create(f"ivig_test_{self.run}_{len(self.made)}", self.template())

    def close(self) -> None:
        with self.admin.connect() as conn:
            for name in reversed(self.made):
                conn.execute(text(f'drop database if exists "{name}" with (force)'))
        self.admin.dispose()


def postgres_required() -> bool:
    """Whether the PostgreSQL tests must run (CI is set), instead of being skipped without a server."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def postgres_unavailable(url: str, error: Exception) -> NoReturn:
    """Skip the test for want of a server, or fail it when CI is set; the message says which server."""
    reason = SKIP_REASON.format(url=url, error=type(error).__name__)
    if postgres_required():
        pytest.fail(f"{reason} (CI is set, so the PostgreSQL tests must run)", pytrace=False)
    pytest.skip(reason)


def start_postgres(admin_url: str = ADMIN_URL) -> PostgresServer:
    try:
        return PostgresServer(admin_url)
    except (OperationalError, ModuleNotFoundError) as error:
        postgres_unavailable(admin_url, error)


def make_app(backend: str, folder: Path, server: PostgresServer | None = None, **config) -> Flask:
    """A migrated app on `backend` with its data under `folder` (or in a new PostgreSQL database)."""
    # Search tests walk deep pages on purpose; the deep-page rate limit is tested in tests/web/test_limits.py.
    settings = {"TESTING": True, "INDEX_DIR": str(folder / "index"), "SECRET_KEY": "test-secret",
                "RATELIMIT_DEEP_PAGE": 1000,
                "SEARCH_BACKEND": backend, **config}
    if backend == "postgres":
        assert server is not None
        settings["DATABASE_URL"] = server.database()
    else:
        settings.setdefault("DATABASE_URL", f"sqlite:///{folder / 'test.sqlite3'}")
    app = create_app(settings)
    with app.app_context():
        init_db()
    return app


def close_app(app: Flask) -> None:
    searcher = app.extensions.get("directory.searcher")
    if searcher is not None:
        searcher.close()
    get_engine(app).dispose()
