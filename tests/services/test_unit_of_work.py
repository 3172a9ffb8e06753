"""The unit of work: one transaction with its actor; on success it commits and the search index
shows the change before it returns; on an error nothing is written and nothing is applied."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from directory.models import AuditEntry, IndexChange, Listing
from directory.services.errors import ValidationError
from directory.services.listings import ListingInput, LocationInput, create_listing
from directory.services.unit_of_work import unit_of_work
from tests.web.test_staff_auth import make_staff


def _input(name: str, npi: str = "2000000001") -> ListingInput:
    from directory.npi import make_npi

    return ListingInput(kind="organization", npi=make_npi(int(npi[-4:]), individual=False), name=name,
                        specialties=["261QI0500X"], locations=[LocationInput(address="1 Main St", zip="02115")])


def _found(client, q: str) -> list[str]:
    return [r["name"] for r in client.get("/api/v1/search", query_string={"q": q}).get_json()["results"]]


def test_a_unit_of_work_commits_credits_the_staff_member_and_updates_search(app, client, session):
    staff = make_staff(session)
    with app.app_context(), unit_of_work(staff.email, staff_id=staff.id) as work:
        create_listing(work.session, _input("Quillfeather Infusion"), actor=work.actor)
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "create")).scalar_one()
    assert (entry.actor, entry.staff_id) == (staff.email, staff.id)
    pending = session.execute(select(func.count()).select_from(IndexChange)
                              .where(IndexChange.applied_at.is_(None))).scalar_one()
    assert pending == 0
    assert _found(client, "quillfeather") == ["Quillfeather Infusion"]


def test_an_error_rolls_back_and_applies_nothing(app, client, session):
    with pytest.raises(ValidationError), app.app_context(), unit_of_work("test") as work:
        create_listing(work.session, _input("Kept Nowhere Infusion"), actor=work.actor)
        work.session.flush()
        raise ValidationError({"name": "refused after the write"})
    assert session.execute(select(func.count()).select_from(Listing)).scalar_one() == 0
    assert session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == 0
    assert session.execute(select(func.count()).select_from(IndexChange)).scalar_one() == 0
    assert _found(client, "nowhere") == []


def test_a_session_passed_in_stays_open(app, session):
    with app.app_context(), unit_of_work("test", session=session) as work:
        listing = create_listing(work.session, _input("Open Session Infusion"), actor=work.actor)
    assert session.get(Listing, listing.id).name == "Open Session Infusion"
