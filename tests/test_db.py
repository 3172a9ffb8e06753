"""The engine's SQLite settings: every connection reads through a memory map of SQLITE_MMAP_MB
(capped by SQLite's own limit), none when it is 0, and a setting that is not a number stops the
start with its name."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from directory.config import from_environment
from directory.db import get_engine, make_engine
from tests.backends import close_app, make_app


def mmap_size(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("PRAGMA mmap_size")).scalar_one()


def test_connections_read_through_a_memory_map_by_default(tmp_path):
    app = make_app("whoosh", tmp_path)
    try:
        assert app.config["SQLITE_MMAP_MB"] == 2048
        # SQLite caps the size at its build's limit (2 GB less 64 KB for Python's sqlite3).
        assert 1 << 30 < mmap_size(get_engine(app)) <= 2048 << 20
    finally:
        close_app(app)


@pytest.mark.parametrize("megabytes", [0, 16])
def test_the_map_size_is_the_setting(tmp_path, megabytes):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}", megabytes)
    try:
        assert mmap_size(engine) == megabytes << 20
    finally:
        engine.dispose()


def test_the_setting_is_read_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SQLITE_MMAP_MB", "0")
    assert from_environment(str(tmp_path))["SQLITE_MMAP_MB"] == 0
    monkeypatch.setenv("SQLITE_MMAP_MB", "lots")
    with pytest.raises(RuntimeError, match="SQLITE_MMAP_MB must be a whole number"):
        from_environment(str(tmp_path))
