"""The migrations build exactly the schema the models describe (no change left unmigrated), and
what they change in existing rows is audited."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, inspect, select
from sqlmodel import Session, SQLModel

import directory.models  # noqa: F401  (registers every table)
from directory import migrate
from directory.db import make_engine
from directory.models import AuditEntry, IndexChange, Location, Role
from directory.npi import make_npi
from directory.referencedata import sync_specialties
from directory.services.listings import ListingInput, LocationInput, create_listing


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


def test_migration_0005_audits_each_duplicate_role_it_removes(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'at-0004.sqlite3'}")
    try:
        upgrade_with_a_duplicate_role(engine)
    finally:
        engine.dispose()


def upgrade_with_a_duplicate_role(engine) -> None:
    """A database at 0004 where a race left a practitioner twice at one location: upgrading keeps
    the oldest role, and the one removed gets an audit entry (and the listings an index change).
    `engine` is an empty database; tests/test_postgres.py runs this on PostgreSQL."""
    migrate.upgrade(engine, "0004")
    with Session(engine, expire_on_commit=False) as session:
        sync_specialties(session)
        organization = create_listing(session, ListingInput(
            kind="organization", npi=make_npi(1, individual=False), name="Fenway Infusion Center",
            specialties=["261QI0500X"], locations=[LocationInput(address="1 Main St", zip="02115")],
        ), actor="test")
        practitioner = create_listing(session, ListingInput(
            kind="practitioner", npi=make_npi(2, individual=True), name="Ada Lovelace", first_name="Ada",
            last_name="Lovelace", specialties=["207RR0500X"],
            locations=[LocationInput(address="2 Main St", zip="02116")],
        ), actor="test")
        session.commit()
        location_id = session.execute(select(Location.id)
                                      .where(Location.listing_id == organization.id)).scalar_one()
        pair = {"practitioner_id": practitioner.id, "organization_id": organization.id,
                "location_id": location_id}
        add_role = insert(Role.__table__).values(**pair)
        kept = session.execute(add_role.values(telehealth=True)).inserted_primary_key[0]
        removed = session.execute(add_role.values(specialty_code="207RR0500X",
                                                  accepting_new_patients=True)).inserted_primary_key[0]
        session.commit()
    migrate.upgrade(engine)
    with Session(engine) as session:
        assert session.execute(select(Role.id)).scalars().all() == [kept]
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "role.remove")).scalar_one()
        assert (entry.actor, entry.listing_id) == ("migration 0005", practitioner.id)
        assert entry.changes["role"] == [{"id": removed, **pair, "specialty_code": "207RR0500X",
                                          "accepting_new_patients": True, "telehealth": False}, None]
        assert entry.changes["duplicate_of"] == [None, kept]
        pending = session.execute(select(IndexChange.listing_id).where(IndexChange.applied_at.is_(None))
                                  .order_by(IndexChange.seq.desc()).limit(2)).scalars().all()
        assert sorted(pending) == sorted([practitioner.id, organization.id])
