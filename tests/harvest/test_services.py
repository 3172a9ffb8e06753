"""Organizations from their HealthcareService (our second instance publishes each organization as
`hcs-N`): an infusion centre, home infusion or specialty pharmacy or hospital the source lists in no
network (so with no OrganizationAffiliation) still becomes a listing, with its name, type,
specialties of our taxonomy's organization section and locations, and no network; one we list
already is left as staff keep it. The harvesting directory runs on each backend."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select
from sqlmodel import Session

from directory.db import get_engine
from directory.models import (
    AuditEntry,
    Listing,
    ListingSpecialty,
    Location,
    Organization,
    Participation,
    Specialty,
    utcnow,
)
from tests.backends import BACKENDS
from tests.harvest.conftest import register, run
from tests.harvest.expected import expected_organizations, expected_participation, participation, writes

KINDS = ("infusion_center", "home_infusion", "specialty_pharmacy", "hospital_infusion")


def describe(app, npi: str) -> dict:
    """What a directory holds of an organization: name, type, organization-section specialties, places."""
    with Session(get_engine(app)) as s:
        listing = s.execute(select(Listing).where(Listing.npi == npi)).scalar_one()
        return {
            "name": listing.name,
            "org_type": s.get(Organization, listing.id).org_type,
            "specialties": set(s.execute(select(ListingSpecialty.code).join(
                Specialty, Specialty.code == ListingSpecialty.code).where(
                ListingSpecialty.listing_id == listing.id, Specialty.section == "organization")).scalars()),
            "places": set(s.execute(select(Location.address, Location.city, Location.state, Location.zip)
                                    .where(Location.listing_id == listing.id)).all()),
        }


def leave_every_network(source_app) -> list[str]:
    """On the source, the first organization of each kind leaves every network; returns their NPIs."""
    with Session(get_engine(source_app)) as s:
        chosen = []
        for kind in KINDS:
            lid = s.execute(select(Organization.listing_id).join(Participation, Participation.listing_id ==
                                                                 Organization.listing_id)
                            .where(Organization.org_type == kind).order_by(Organization.listing_id)).scalars().first()
            assert lid is not None, f"the source has no {kind} in a network"
            s.execute(delete(Participation).where(Participation.listing_id == lid))
            listing = s.get(Listing, lid)
            listing.updated_at = utcnow()
            chosen.append(listing.npi)
        s.commit()
    return chosen


@pytest.mark.parametrize("backend", BACKENDS)
def test_organizations_in_no_network_come_from_their_healthcare_service(app, factory, source_app, source_url):
    outside = leave_every_network(source_app)
    staff_kept = outside[-1]  # already listed here, at another address: staff keep it
    factory.listing(npi=staff_kept, name="Our Own Record", zip="02115")
    ours_before = describe(app, staff_kept)

    source = register(app, source_url)
    report = run(app, source)
    assert report.complete and report.errors == []
    for npi in outside[:-1]:
        assert describe(app, npi) == describe(source_app, npi)
    assert describe(app, staff_kept) == ours_before
    found = participation(app)
    assert not set(outside) & set(found)  # a service says nothing of networks
    assert found == expected_participation(source_app)
    with Session(get_engine(app)) as s:
        npis = set(s.execute(select(Listing.npi)).scalars())
        staff_id = s.execute(select(Listing.id).where(Listing.npi == staff_kept)).scalar_one()
        assert s.execute(select(AuditEntry).where(AuditEntry.listing_id == staff_id,
                                                  AuditEntry.actor.like("harvest:%"))).first() is None
    assert npis == set(expected_participation(source_app)) | expected_organizations(source_app)

    before = writes(app)
    assert run(app, source, full=True).complete
    assert writes(app) == before
