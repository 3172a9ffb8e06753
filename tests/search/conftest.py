"""Fixtures for the search tests."""

from __future__ import annotations

import pytest

from directory.db import get_engine
from directory.search.whoosh_backend import WhooshSearcher


@pytest.fixture
def worker(app):
    """A second searcher on the same index folder and database: another worker process."""
    searcher = WhooshSearcher(app.config["INDEX_DIR"], get_engine(app))
    yield searcher
    searcher.close()
