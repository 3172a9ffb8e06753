"""The migrations build exactly the schema the models describe (no change left unmigrated)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import directory.models  # noqa: F401  (registers every table)
from directory import migrate
from directory.db import make_engine


def test_migrations_match_the_models(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    try:
        migrate.upgrade(engine)
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
        unique = {c["name"] for c in inspect(engine).get_unique_constraints("role")}
        assert "uq_role_practitioner_location" in unique
    finally:
        engine.dispose()
