"""Harvest test helpers: a second instance of our app, seeded differently, served on loopback as the
source (its /fhir/), and what its own database says each NPI's relevant participation is."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlmodel import Session

from directory.db import get_engine
from directory.demo import generate
from directory.fhir.codes import role_specialty_allowed, service_specialty_allowed
from directory.harvest.client import HttpSettings
from directory.harvest.run import harvest_source
from directory.models import Listing, ListingSpecialty, Network, Participation, Role, Specialty
from directory.search import rebuild_index
from directory.services.harvest_sources import add_source
from directory.services.unit_of_work import unit_of_work
from tests.backends import close_app, make_app
from tests.loopback import serving

SOURCE_LISTINGS = 200
FAST = HttpSettings(min_interval=0, attempts=3, backoff=0.01, max_wait=0.05, timeout=0.5)


@pytest.fixture
def source_app(tmp_path):
    """Another directory (demo data, seed 11): the payer whose Plan-Net API we harvest."""
    folder = tmp_path / "source"
    folder.mkdir()
    app = make_app("whoosh", folder)
    with app.app_context():
        generate(get_engine(), count=SOURCE_LISTINGS, seed=11)
        rebuild_index(app)
    yield app
    close_app(app)


@pytest.fixture
def source_url(source_app):
    with serving(source_app) as base:
        yield f"{base}/fhir"


def register(app, url: str, name: str = "mirror", payer: str | None = None) -> int:
    with app.app_context(), unit_of_work("test") as uow:
        return add_source(uow.session, name=name, base_url=url, payer=payer, actor="test").id


def run(app, source_id: int, **options):
    with app.app_context():
        return harvest_source(app, source_id, settings=options.pop("settings", FAST), **options)


def expected_participation(app, payer: str | None = None) -> dict[str, set]:
    """NPI -> {(payer, network, start, end)} from the source's own database, for the listings its
    FHIR API publishes under the specialties we carry: practitioners with a role whose specialty (the
    role's, else their primary one) a PractitionerRole may carry, organizations with a specialty an
    OrganizationAffiliation may carry. Organizations' dates are left out (an affiliation gives one
    period per payer)."""
    with Session(get_engine(app)) as s:
        sections = dict(s.execute(select(Specialty.code, Specialty.section)).all())
        primary = dict(s.execute(select(ListingSpecialty.listing_id, ListingSpecialty.code)
                                 .where(ListingSpecialty.is_primary.is_(True))).all())
        codes: dict[int, set] = {}
        for lid, code in s.execute(select(ListingSpecialty.listing_id, ListingSpecialty.code)):
            codes.setdefault(lid, set()).add(code)
        relevant = set()
        for pid, code in s.execute(select(Role.practitioner_id, Role.specialty_code)):
            code = code or primary.get(pid)
            if code is not None and role_specialty_allowed(code, sections[code]):
                relevant.add(pid)
        found: dict[str, set] = {}
        rows = s.execute(select(Listing.id, Listing.npi, Listing.kind, Network.payer, Network.name,
                                Participation.start_date, Participation.end_date)
                         .join(Participation, Participation.listing_id == Listing.id)
                         .join(Network, Network.id == Participation.network_id)
                         .where(Listing.active.is_(True)))
        for lid, npi, kind, net_payer, name, start, end in rows:
            if payer is not None and net_payer != payer:
                continue
            if kind == "practitioner" and lid in relevant:
                found.setdefault(npi, set()).add((net_payer, name, start, end))
            elif kind == "organization" and any(service_specialty_allowed(c) for c in codes.get(lid, ())):
                found.setdefault(npi, set()).add((net_payer, name, None, None))
        return found


def participation(app) -> dict[str, set]:
    """NPI -> {(payer, network, start, end)} live in `app`'s directory (dates of practitioners only)."""
    with Session(get_engine(app)) as s:
        found: dict[str, set] = {}
        for npi, kind, payer, name, start, end in s.execute(
                select(Listing.npi, Listing.kind, Network.payer, Network.name, Participation.start_date,
                       Participation.end_date)
                .join(Participation, Participation.listing_id == Listing.id)
                .join(Network, Network.id == Participation.network_id)):
            dates = (start, end) if kind == "practitioner" else (None, None)
            found.setdefault(npi, set()).add((payer, name, *dates))
        return found


def today() -> date:
    return date.today()
