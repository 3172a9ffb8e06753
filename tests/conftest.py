"""Shared fixtures: a real SQLite file and a real Whoosh index in a temporary folder per test."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from directory import create_app
from directory.cli import init_db
from directory.db import get_engine
from tests.backends import start_postgres
from tests.factories import Factory


@pytest.fixture(scope="session")
def postgres_server():
    """Throw-away PostgreSQL databases for this test run (skips the test when there is no server)."""
    server = start_postgres()
    yield server
    server.close()


@pytest.fixture
def app(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'test.sqlite3'}",
            "INDEX_DIR": str(tmp_path / "index"),
            "SECRET_KEY": "test-secret",
        }
    )
    with app.app_context():
        init_db()
    yield app
    searcher = app.extensions.get("directory.searcher")
    if searcher is not None:
        searcher.close()
    get_engine(app).dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    with Session(get_engine(app), expire_on_commit=False) as session:
        yield session


@pytest.fixture
def factory(app, session):
    """Builds listings through the real write path and keeps the index in step."""
    return Factory(app, session)
