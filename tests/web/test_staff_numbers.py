"""Numbers typed into staff query strings and forms: huge values and digits of other scripts are a
plain page or a 4xx, never a 500 from the database driver; nothing is written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from directory.models import MAX_ID, AuditEntry, Listing, Location, Role
from directory.web.params import page_number, whole_number
from tests.web.test_staff_auth import csrf_token, make_staff, sign_in, text

HUGE = "6091027775321257541632"
ODD = (HUGE, str(2**63), "١٢", "²", "-1", "1e3", " 7 ")


def test_whole_number_accepts_ascii_digits_up_to_the_bound():
    assert whole_number("42") == 42 and whole_number(" 007 ") == 7
    assert whole_number(str(MAX_ID)) == MAX_ID and whole_number(str(MAX_ID + 1)) is None
    for raw in (HUGE, str(2**63), "١٢", "²", "-1", "1e3", "", None, "0" * 30 + "1" * 20):
        assert whole_number(raw) is None, raw
    assert whole_number("0" * 30 + "5") == 5
    assert page_number(HUGE) == 1 and page_number("0") == 1 and page_number("3") == 3


@pytest.fixture
def admin(app, session):
    make_staff(session)
    client = app.test_client()
    assert sign_in(client).status_code == 303
    return client


@pytest.mark.parametrize("raw", ODD)
@pytest.mark.parametrize("url", ["/staff/listings/?page={}", "/staff/audit?page={}", "/staff/verification?page={}"])
def test_odd_page_numbers_show_a_page(admin, url, raw):
    response = admin.get(url.format(raw))
    assert response.status_code == 200, text(response)[:300]


@pytest.mark.parametrize("raw", ODD[:-1])
@pytest.mark.parametrize("url", ["/staff/audit?listing_id={}", "/staff/audit.csv?listing_id={}"])
def test_odd_listing_ids_in_the_audit_filter_are_400(admin, url, raw):
    response = admin.get(url.format(raw))
    assert response.status_code == 400, text(response)[:300]


def _count(session, table) -> int:
    session.expire_all()
    return session.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.mark.parametrize("raw", [HUGE, str(2**63), "١"])
def test_odd_numbers_in_staff_forms_are_refused_and_write_nothing(admin, session, factory, raw):
    org = factory.listing(name="Fenway Infusion Center")
    prac = factory.listing(kind="practitioner", name="Dr Ada Lovelace")
    entries = _count(session, AuditEntry)
    url = f"/staff/listings/{prac.id}/roles"
    response = admin.post(url, data={"csrf_token": csrf_token(admin, url), "location_id": raw})
    assert response.status_code == 400, text(response)[:300]
    url = f"/staff/listings/{org.id}/edit"
    response = admin.post(url, data={"csrf_token": csrf_token(admin, url), "version": raw, "name": "X"})
    assert response.status_code in (400, 409), text(response)[:300]
    url = "/staff/verification"
    response = admin.post(f"/staff/verification/{org.id}",
                          data={"csrf_token": csrf_token(admin, url), "version": raw, "method": "phone"})
    assert response.status_code in (303, 400, 409), text(response)[:300]
    url = "/staff/listings/new?kind=organization"
    response = admin.post(url, data={"csrf_token": csrf_token(admin, url), "name": "New Infusion",
                                     "npi": "1234567893", "specialties": ["261QI0500X"], "networks": [raw],
                                     "locations.0.address": "1 Main St", "locations.0.zip": "02115"})
    assert response.status_code == 400, text(response)[:300]
    assert "unknown network id" in text(response)
    assert _count(session, AuditEntry) == entries
    assert _count(session, Listing) == 2 and _count(session, Role) == 0 and _count(session, Location) == 2
    assert session.get(Listing, org.id).version == 1
