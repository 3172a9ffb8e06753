"""The listing write path: locations are matched by id, so removing one moves nothing else."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from directory.importers.upsert import snapshot
from directory.models import AuditEntry, Listing, Location, Role
from directory.services.errors import ValidationError
from directory.services.listings import LocationInput, update_listing
from directory.services.roles import add_role


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


def _org_input(**overrides):
    from directory.npi import make_npi
    from directory.services.listings import ListingInput, LocationInput

    values = {"kind": "organization", "npi": make_npi(7301, individual=False), "name": "Valid Infusion",
              "specialties": ["261QI0500X"], "locations": [LocationInput(address="1 Main St", zip="02115")]}
    return ListingInput(**(values | overrides))


@pytest.mark.parametrize("overrides, field", [
    ({"org_type": "hospital"}, "org_type"),
    ({"org_type": ""}, "org_type"),
    ({"locations": [LocationInput(address="1 Main St", zip="02115", state="MASS")]}, "locations.0.state"),
    ({"locations": [LocationInput(address="1 Main St", zip="02115", state="M1")]}, "locations.0.state"),
    ({"locations": [LocationInput(address="1 Main St", zip="02115", hours=["mon"])]}, "locations.0.hours"),
])
def test_every_database_rule_is_a_field_error_from_the_service(session, overrides, field):
    """What the database's CHECK constraints (and column sizes) would refuse is caught first, by
    field, so an import rejects that row only instead of failing a whole batch."""
    from directory.services.listings import create_listing, validate

    data = _org_input(**overrides)
    assert field in validate(session, data)
    with pytest.raises(ValidationError):
        create_listing(session, data, actor="test")
    session.rollback()


def test_an_import_row_with_a_bad_org_type_is_rejected_alone(session):
    """Item 10: one bad org_type used to reach the CHECK constraint and roll back its whole batch."""
    import io

    from directory.importers.template import import_template
    from directory.npi import make_npi

    header = "npi,kind,name,org_type,specialties,address,zip\n"
    good, bad = make_npi(7311, individual=False), make_npi(7312, individual=False)
    rows = f"{good},organization,Good Infusion,infusion_center,261QI0500X,1 Main St,02115\n" \
           f"{bad},organization,Bad Infusion,hospital,261QI0500X,2 Main St,02115\n"
    report = import_template(session, io.StringIO(header + rows, newline=""), actor="test")
    assert report.created == 1
    assert [(line, npi) for line, npi, _ in report.rejections] == [(3, bad)]
    assert "org_type" in report.rejections[0][2]
    assert session.execute(select(Listing.npi)).scalars().all() == [good]


@pytest.mark.parametrize("phone", ["٦١٧٥٥٥٠١٢٣", "６１７５５５０１２３"])
def test_a_phone_in_digits_of_other_scripts_is_refused(phone):
    from directory.services.listings import format_phone

    with pytest.raises(ValueError):
        format_phone(phone)


def test_network_ids_beyond_any_row_are_a_field_error(session):
    from directory.services.listings import validate

    assert validate(session, _org_input(networks=[2**63]))["networks"] == f"unknown network id {2**63}"


@pytest.mark.parametrize("overrides, field", [
    ({"name": "N" * 10_000}, "name"),
    ({"name": "Bad\x00Name"}, "name"),
    ({"website": "https://example.org/" + "a" * 3000}, "website"),
    ({"ivig_products": ["Gamunex-C", "P" * 500]}, "ivig_products"),
    ({"locations": [LocationInput(address="1 Main St\x07", zip="02115")]}, "locations.0.address"),
    ({"locations": [LocationInput(address="A" * 500, zip="02115")]}, "locations.0.address"),
])
def test_texts_too_long_or_with_control_characters_are_field_errors(session, overrides, field):
    """A 10 kB name was a 500 on PostgreSQL (its search index holds words of at most 2047 bytes), and
    the staff form was the only place that limited it: imports are held to the same rules."""
    from directory.services.listings import validate

    assert field in validate(session, _org_input(**overrides))


def test_an_import_row_with_a_huge_name_is_rejected_alone(session):
    import io

    from directory.importers.template import import_template
    from directory.npi import make_npi

    good, bad = make_npi(7321, individual=False), make_npi(7322, individual=False)
    rows = ("npi,kind,name,specialties,address,zip\n"
            f"{good},organization,Good Infusion,261QI0500X,1 Main St,02115\n"
            f"{bad},organization,{'N' * 10_000},261QI0500X,2 Main St,02115\n")
    report = import_template(session, io.StringIO(rows, newline=""), actor="test")
    assert report.created == 1 and [(line, npi) for line, npi, _ in report.rejections] == [(3, bad)]
    assert "name: at most 200 characters" in report.rejections[0][2]
