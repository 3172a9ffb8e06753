"""The listing write path: locations are matched by id, so removing one moves nothing else."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from directory.importers.upsert import snapshot
from directory.listings import ValidationError, update_listing
from directory.models import AuditEntry, Listing, Location, Role
from directory.roles import add_role


def _org_with_three_places(factory, session):
    org = factory.listing(name="Three Sites Infusion", zips=["02115", "02139", "01103"])
    places = session.execute(
        select(Location).where(Location.listing_id == org.id).order_by(Location.id)).scalars().all()
    prac = factory.listing(kind="practitioner", name="Dr Ada Lovelace")
    second = add_role(session, practitioner_id=prac.id, location_id=places[1].id, actor="test")
    third = add_role(session, practitioner_id=prac.id, location_id=places[2].id, actor="test")
    session.commit()
    return org, prac, places, second.id, third.id


def _addresses(session, listing_id):
    return [(loc.id, loc.address, loc.zip) for loc in session.execute(
        select(Location).where(Location.listing_id == listing_id).order_by(Location.id)).scalars()]


def test_removing_the_first_location_moves_no_other_address_or_role(factory, session):
    org, prac, places, second_role, third_role = _org_with_three_places(factory, session)
    before = _addresses(session, org.id)
    data = snapshot(session, session.get(Listing, org.id))
    update_listing(session, org.id, replace(data, locations=data.locations[1:]), actor="editor@example.org")
    session.commit()
    session.expire_all()
    assert _addresses(session, org.id) == before[1:]  # same ids, same addresses
    roles = {role.id: role.location_id for role in session.execute(select(Role)).scalars()}
    assert roles == {second_role: places[1].id, third_role: places[2].id}


def test_removing_a_location_removes_its_roles_with_their_own_audit_entries(factory, session):
    org, prac, places, second_role, third_role = _org_with_three_places(factory, session)
    data = snapshot(session, session.get(Listing, org.id))
    keep = [data.locations[0], data.locations[2]]
    update_listing(session, org.id, replace(data, locations=keep), actor="editor@example.org")
    session.commit()
    session.expire_all()
    assert [row[0] for row in _addresses(session, org.id)] == [places[0].id, places[2].id]
    assert {role.id for role in session.execute(select(Role)).scalars()} == {third_role}
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "role.remove")).scalar_one()
    assert entry.listing_id == prac.id and entry.actor == "editor@example.org"
    assert entry.changes["role"][0]["id"] == second_role
    assert entry.changes["role"][0]["location_id"] == places[1].id


def test_a_location_of_another_listing_cannot_be_named(factory, session):
    org, _prac, _places, _second, _third = _org_with_three_places(factory, session)
    other = factory.listing(name="Elsewhere Infusion", zip="10016")
    theirs = session.execute(select(Location.id).where(Location.listing_id == other.id)).scalar_one()
    data = snapshot(session, session.get(Listing, org.id))
    data.locations[0].id = theirs
    with pytest.raises(ValidationError) as error:
        update_listing(session, org.id, data, actor="test")
    assert "locations.0.id" in error.value.errors
    session.rollback()
