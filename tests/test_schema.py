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
from directory.geo import lookup_zip
from directory.models import AuditEntry, IndexChange, Listing, Location, Role, utcnow
from directory.npi import make_npi
from directory.referencedata import sync_specialties


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
        # Rows written as a database at 0004 holds them: with the columns it had (today's models
        # have more, so the listing service cannot write to it).
        organization = _old_listing(session, kind="organization", npi=make_npi(1, individual=False),
                                    name="Fenway Infusion Center", address="1 Main St", zip5="02115")
        practitioner = _old_listing(session, kind="practitioner", npi=make_npi(2, individual=True),
                                    name="Ada Lovelace", address="2 Main St", zip5="02116")
        session.commit()
        location_id = session.execute(select(Location.__table__.c.id)
                                      .where(Location.__table__.c.listing_id == organization)).scalar_one()
        pair = {"practitioner_id": practitioner, "organization_id": organization,
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
        assert (entry.actor, entry.listing_id) == ("migration 0005", practitioner)
        assert entry.changes["role"] == [{"id": removed, **pair, "specialty_code": "207RR0500X",
                                          "accepting_new_patients": True, "telehealth": False}, None]
        assert entry.changes["duplicate_of"] == [None, kept]
        pending = session.execute(select(IndexChange.listing_id).where(IndexChange.applied_at.is_(None))
                                  .order_by(IndexChange.seq.desc()).limit(2)).scalars().all()
        assert sorted(pending) == sorted([practitioner, organization])


def _old_listing(session: Session, *, kind: str, npi: str, name: str, address: str, zip5: str) -> int:
    """A listing with one location at its ZIP centroid, inserted with the 0004 schema's columns."""
    now = utcnow()
    listing_id = session.execute(insert(Listing.__table__).values(
        kind=kind, npi=npi, name=name, active=True, accepting_new_patients=False, telehealth=False,
        languages=["en"], services=[], source="staff", is_demo=False, version=1, created_at=now,
        updated_at=now)).inserted_primary_key[0]
    place = lookup_zip(zip5)
    session.execute(insert(Location.__table__).values(
        listing_id=listing_id, address=address, city=place.city, state=place.state, zip=place.zip,
        lat=place.lat, lon=place.lon, geo_source="zip_centroid", hours={}, wheelchair_accessible=False))
    return listing_id
