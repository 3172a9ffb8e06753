"""Fixtures for the search tests: most run once per backend (Whoosh and PostgreSQL) and must pass
unchanged on both; a test marked `@pytest.mark.backends("whoosh")` runs on the ones it names. The
`app` fixture is the root one (tests/conftest.py); this module parametrizes its `backend`."""

from __future__ import annotations

import pytest

from directory.search import BACKENDS as OPENERS
from tests.backends import BACKENDS


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        metafunc.parametrize("backend", marker.args if marker else BACKENDS, scope="module")


@pytest.fixture
def worker(app):
    """A second searcher on the same index and database: another worker process."""
    searcher = OPENERS[app.config["SEARCH_BACKEND"]](app)
    yield searcher
    searcher.close()
