"""Migration 0007: networks gain `updated_at` (FHIR meta.lastUpdated) and keep their participations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text
from sqlmodel import Session, select

from directory import migrate
from directory.db import make_engine
from directory.models import Network, Participation
from tests.test_postgres import pg_url  # noqa: F401  (fixture: an empty PostgreSQL database)


def upgrade_with_a_network(engine) -> None:
    """A database at 0006 with a network in use: upgrading stamps it and loses no participation."""
    migrate.upgrade(engine, "0006")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO listing (id, kind, npi, name, active, accepting_new_patients, telehealth, "
                          "languages, services, source, is_demo, version, created_at, updated_at) VALUES "
                          "(1, 'organization', '1234567893', 'Fenway Infusion', true, false, false, '[]', '[]', "
                          "'staff', false, 1, '2026-01-01', '2026-01-01')"))
        conn.execute(text("INSERT INTO network (id, payer, name, plan_type, is_demo) "
                          "VALUES (7, 'Acme Health', 'Acme PPO', 'PPO', false)"))
        conn.execute(text("INSERT INTO participation (listing_id, network_id) VALUES (1, 7)"))
    before = datetime.now(UTC).replace(microsecond=0)
    migrate.upgrade(engine)
    with Session(engine) as session:
        network = session.get(Network, 7)
        assert before <= network.updated_at <= datetime.now(UTC) + timedelta(seconds=1)
        assert session.exec(select(Participation.listing_id)).all() == [1]
        added = Network(payer="Acme Health", name="Acme HMO", plan_type="HMO")
        session.add(added)
        session.commit()
        assert added.updated_at.tzinfo is not None


def test_upgrade_stamps_existing_networks_on_sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'at-0006.sqlite3'}")
    try:
        upgrade_with_a_network(engine)
    finally:
        engine.dispose()


def test_upgrade_stamps_existing_networks_on_postgres(pg_url):  # noqa: F811
    engine = create_engine(pg_url)
    try:
        upgrade_with_a_network(engine)
    finally:
        engine.dispose()
