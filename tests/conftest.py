"""Shared fixtures: a real SQLite file and a real Whoosh index in a temporary folder per test."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from directory.db import get_engine
from tests.backends import close_app, make_app, start_postgres
from tests.factories import Factory


@pytest.fixture(scope="session")
def postgres_server():
    """Throw-away PostgreSQL databases for this test run (skips the test when there is no server)."""
    server = start_postgres()
    yield server
    server.close()


@pytest.fixture
def backend() -> str:
    """The search backend the `app` fixture runs: Whoosh, unless a test (or tests/search/conftest.py,
    for every search test) parametrizes `backend` over "whoosh" and "postgres"."""
    return "whoosh"


@pytest.fixture
def app(backend, tmp_path, request):
    """The one app fixture: a migrated app on `backend`, with a SQLite file and a Whoosh index in a
    temporary folder, or a throw-away PostgreSQL database."""
    server = request.getfixturevalue("postgres_server") if backend == "postgres" else None
    app = make_app(backend, tmp_path, server)
    yield app
    close_app(app)


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
