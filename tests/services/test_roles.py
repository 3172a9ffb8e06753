"""Roles (directory/services/roles.py): at an organization's location, or with `at_own_location` at
the practitioner's own; each change audited and queued for both listings' search documents."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from directory.models import AuditEntry, IndexChange, Location, Role
from directory.services.errors import ValidationError
from directory.services.roles import add_role, remove_role


def _places(factory, session):
    org = factory.listing(name="Springfield Infusion Center", zip="01103")
    prac = factory.listing(kind="practitioner", name="Dr. Ada Lovelace", zip="02115")
    org_place = session.execute(select(Location.id).where(Location.listing_id == org.id)).scalar_one()
    own_place = session.execute(select(Location.id).where(Location.listing_id == prac.id)).scalar_one()
    return org, prac, org_place, own_place


def _queued(session) -> set[int]:
    return set(session.execute(select(IndexChange.listing_id).where(IndexChange.applied_at.is_(None))).scalars())


def test_a_role_at_an_organization_is_audited_and_queues_both_listings(factory, session):
    org, prac, org_place, _own = _places(factory, session)
    role = add_role(session, practitioner_id=prac.id, location_id=org_place, actor="editor@example.org")
    assert role.organization_id == org.id
    assert _queued(session) == {prac.id, org.id}
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "role.add")).scalar_one()
    assert entry.listing_id == prac.id and entry.changes["role"][1]["location_id"] == org_place
    session.commit()
    remove_role(session, role.id, actor="editor@example.org")
    session.commit()
    assert session.execute(select(Role)).first() is None


def test_a_role_at_the_practitioners_own_location_has_no_organization(factory, session):
    org, prac, org_place, own = _places(factory, session)
    with pytest.raises(ValidationError) as error:
        add_role(session, practitioner_id=prac.id, location_id=own, actor="test")
    assert "does not belong to an organization" in error.value.errors["location_id"]
    session.rollback()
    role = add_role(session, practitioner_id=prac.id, location_id=own, actor="test", at_own_location=True)
    assert role.organization_id is None and _queued(session) == {prac.id}
    session.rollback()
    with pytest.raises(ValidationError) as error:
        add_role(session, practitioner_id=prac.id, location_id=org_place, actor="test", at_own_location=True)
    assert "not one of this practitioner's" in error.value.errors["location_id"]
    session.rollback()


@pytest.mark.parametrize("location_id", [0, 2**63, -1])
def test_a_location_id_that_no_row_can_have_is_a_field_error(factory, session, location_id):
    _org, prac, _place, _own = _places(factory, session)
    with pytest.raises(ValidationError) as error:
        add_role(session, practitioner_id=prac.id, location_id=location_id, actor="test")
    assert "location_id" in error.value.errors
    session.rollback()
