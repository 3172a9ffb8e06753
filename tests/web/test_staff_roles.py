"""Staff roles page: a practitioner practising at an organization's location (FHIR PractitionerRole);
every change is audited and reaches public search before the response."""

from __future__ import annotations

from sqlalchemy import select

from directory.models import AuditEntry, IndexChange, Location, Role
from tests.web.test_staff_auth import text
from tests.web.test_staff_listings import count, editor, token

PRAC_NAME = "Dr. Ada Lovelace"
ORG_NAME = "Springfield Infusion Center"


def near(client, zip_code: str) -> list[str]:
    body = client.get("/api/v1/search", query_string={"zip": zip_code, "radius": "10"}).get_json()
    return [r["name"] for r in body["results"]]


def setup(factory, session):
    prac = factory.listing(kind="practitioner", name=PRAC_NAME, zip="02115",
                           specialties=["207RR0500X", "2084N0400X"])
    org = factory.listing(name=ORG_NAME, zip="01103")
    location = session.execute(select(Location).where(Location.listing_id == org.id)).scalar_one()
    return prac, org, location


def post_role(client, lid: int, **fields):
    url = f"/staff/listings/{lid}/roles"
    return client.post(url, data={"csrf_token": token(client, url), **fields})


def test_add_role_makes_practitioner_findable_there_and_remove_undoes_it(app, session, factory):
    prac, org, location = setup(factory, session)
    client = editor(app, session)
    assert PRAC_NAME not in near(client, "01103")
    page = text(client.get(f"/staff/listings/{prac.id}/roles"))
    assert f'<option value="{location.id}"' in page and ORG_NAME in page  # same state: offered
    response = post_role(client, prac.id, location_choice=str(location.id), specialty_code="207RR0500X",
                         accepting_new_patients="1")
    assert response.status_code == 303, text(response)
    assert response.location == f"/staff/listings/{prac.id}/roles"
    role = session.execute(select(Role).where(Role.practitioner_id == prac.id)).scalar_one()
    assert (role.organization_id, role.location_id, role.specialty_code) == (org.id, location.id, "207RR0500X")
    assert role.accepting_new_patients is True and role.telehealth is False
    role_id = role.id
    assert PRAC_NAME in near(client, "01103")
    assert PRAC_NAME in near(client, "02115")  # own office still counts
    page = text(client.get(response.location))
    assert "Added a role" in page and ORG_NAME in page and "Springfield, MA 01103" in page
    assert session.execute(select(IndexChange.listing_id).where(IndexChange.applied_at.is_(None))).all() == []
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "role.add")).scalar_one()
    assert (entry.listing_id, entry.actor) == (prac.id, "ed@example.org") and entry.staff_id is not None
    assert entry.changes["role"][1]["organization_id"] == org.id

    csrf = token(client, f"/staff/listings/{prac.id}/roles")
    response = client.post(f"/staff/listings/{prac.id}/roles/{role_id}/remove", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert PRAC_NAME not in near(client, "01103")
    assert PRAC_NAME in near(client, "02115")
    assert count(session, Role) == 0
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "role.remove")).scalar_one()
    assert (entry.listing_id, entry.actor) == (prac.id, "ed@example.org")
    assert client.post(f"/staff/listings/{prac.id}/roles/{role_id}/remove",
                       data={"csrf_token": csrf}).status_code == 404


def test_location_id_fallback_field_and_changes_for_both_listings(app, session, factory):
    prac, org, location = setup(factory, session)
    client = editor(app, session, email="boss@example.org", role="admin")
    assert post_role(client, prac.id, location_id=str(location.id), telehealth="1").status_code == 303
    changed = session.execute(select(IndexChange.listing_id).order_by(IndexChange.seq.desc()).limit(2)
                              ).scalars().all()
    assert sorted(changed) == sorted([prac.id, org.id])
    role = session.execute(select(Role)).scalar_one()
    assert role.telehealth is True and role.specialty_code is None


def test_validation_errors_are_400_and_write_nothing(app, session, factory):
    prac, org, location = setup(factory, session)
    other = factory.listing(kind="practitioner", name="Dr. Grace Hopper", zip="01103")
    own = session.execute(select(Location).where(Location.listing_id == other.id)).scalar_one()
    client = editor(app, session)
    cases = [
        ({"location_id": str(own.id)}, "location_id", "does not belong to an organization"),
        ({"location_id": "99999"}, "location_id", "no location with id 99999"),
        ({"location_id": "abc"}, "location_id", "a location id is a whole number"),
        ({}, "location_id", "choose an organization location"),
        ({"location_id": str(location.id), "specialty_code": "261QI0500X"}, "specialty_code",
         "must be one of the practitioner"),
    ]
    for fields, field, message in cases:
        response = post_role(client, prac.id, **fields)
        assert response.status_code == 400, fields
        html = text(response)
        assert f'id="{field}-error"' in html and message in html, fields
    assert count(session, Role) == 0
    assert post_role(client, prac.id, location_id=str(location.id)).status_code == 303
    response = post_role(client, prac.id, location_choice=str(location.id))
    assert response.status_code == 400
    assert "already has a role at this location" in text(response)
    assert count(session, Role) == 1
    actions = session.execute(select(AuditEntry.action).where(AuditEntry.listing_id == prac.id)
                              .order_by(AuditEntry.id)).scalars().all()
    assert actions == ["create", "role.add"]
    # Organizations have no roles page.
    assert client.get(f"/staff/listings/{org.id}/roles").status_code == 404


def test_service_rejects_non_practitioner(app, session, factory):
    import pytest

    from directory.services.errors import ValidationError
    from directory.services.roles import add_role

    _, org, location = setup(factory, session)
    with pytest.raises(ValidationError) as raised:
        add_role(session, practitioner_id=org.id, location_id=location.id, actor="test")
    assert "practitioner_id" in raised.value.errors
    session.rollback()


def test_anonymous_is_sent_to_sign_in_and_verifier_is_forbidden(app, session, factory, client):
    prac, _, location = setup(factory, session)
    url = f"/staff/listings/{prac.id}/roles"
    response = client.get(url)
    assert response.status_code == 302 and response.location.startswith("/staff/login?next=")
    verifier = editor(app, session, email="v@example.org", role="verifier")
    assert verifier.get(url).status_code == 403
    csrf = token(verifier, "/staff/")
    assert verifier.post(url, data={"csrf_token": csrf, "location_id": str(location.id)}).status_code == 403
    assert verifier.post(f"{url}/1/remove", data={"csrf_token": csrf}).status_code == 403
    assert count(session, Role) == 0


def test_roles_pages_are_valid_html5(app, session, factory, tmp_path):

    from tests.web.test_html_valid import assert_valid_html5
    from tests.web.test_providers import parse

    prac, _, location = setup(factory, session)
    client = editor(app, session)
    assert post_role(client, prac.id, location_id=str(location.id), specialty_code="207RR0500X").status_code == 303
    pages = {"list": client.get(f"/staff/listings/{prac.id}/roles"),
             "errors": post_role(client, prac.id, location_id="abc", specialty_code="261QI0500X")}
    assert pages["errors"].status_code == 400
    assert_valid_html5(pages, tmp_path, check=parse)


def test_database_refuses_a_second_role_at_the_same_location(app, session, factory):
    """The service checks for a duplicate; the database enforces it too (migration 0005), for two
    staff adding the same role at once."""
    import pytest
    from sqlalchemy.exc import IntegrityError

    from directory.services.roles import add_role

    prac, _org, location = setup(factory, session)
    add_role(session, practitioner_id=prac.id, location_id=location.id, actor="test")
    session.commit()
    session.add(Role(practitioner_id=prac.id, organization_id=location.listing_id, location_id=location.id))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    assert count(session, Role) == 1
