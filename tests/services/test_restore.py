"""What exact restores need beyond the listing service (directory/services/restore.py):
participation dates and record fields, each change audited and queued for the index."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from directory.models import AuditEntry, IndexChange, Listing, Location, Participation
from directory.services.restore import restore_fields, set_participation


def test_participation_dates_are_set_exactly_and_audited(factory, session):
    kept, dropped, added = (factory.network(name=f"Plan {n}") for n in ("Kept", "Dropped", "Added"))
    listing = factory.listing(networks=[kept.id, dropped.id])
    dates = {kept.id: (date(2024, 1, 1), None), added.id: (None, date(2027, 12, 31))}
    assert set_participation(session, listing.id, dates, actor="import-jsonl") is True
    session.commit()
    rows = session.execute(select(Participation.network_id, Participation.start_date, Participation.end_date)
                           .where(Participation.listing_id == listing.id)).all()
    assert {row[0]: (row[1], row[2]) for row in rows} == dates
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "participation")).scalar_one()
    assert set(entry.changes) == {str(kept.id), str(dropped.id), str(added.id)}
    assert listing.id in set(session.execute(select(IndexChange.listing_id)).scalars())
    assert set_participation(session, listing.id, dates, actor="import-jsonl") is False  # nothing to change


def test_record_fields_and_coordinates_are_restored_and_audited(factory, session):
    listing = factory.listing()
    location = session.execute(select(Location).where(Location.listing_id == listing.id)).scalar_one()
    values = {"last_verified": date(2026, 10, 1), "verification_method": "phone", "verified_by": "v@example.org"}
    coordinates = {location.id: {"lat": 42.3467, "lon": -71.0972, "geo_source": "geocoder"}}
    assert restore_fields(session, listing.id, values, coordinates, actor="import-jsonl") is True
    session.commit()
    session.expire_all()
    stored = session.get(Listing, listing.id)
    assert (stored.last_verified, stored.verification_method) == (date(2026, 10, 1), "phone")
    place = session.get(Location, location.id)
    assert (place.lat, place.lon, place.geo_source) == (42.3467, -71.0972, "geocoder")
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "restore")).scalar_one()
    assert entry.changes["verified_by"] == [None, "v@example.org"]
    assert restore_fields(session, listing.id, values, coordinates, actor="import-jsonl") is False
