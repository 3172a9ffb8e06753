"""The bar's checks, shared by tests/harvest and bench/harvest.py: what the source's own database
says each NPI's relevant participation is, what the harvesting directory holds, how many writes a
directory has recorded, and a change of roles on the source as its staff would make it."""

from __future__ import annotations

import random

from sqlalchemy import func, select
from sqlmodel import Session

from directory.db import get_engine
from directory.fhir.codes import role_specialty_allowed, service_specialty_allowed
from directory.models import (
    AuditEntry,
    IndexChange,
    Listing,
    ListingSpecialty,
    Network,
    Participation,
    Role,
    Specialty,
    utcnow,
)


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


def expected_organizations(app) -> set[str]:
    """NPIs of the source's active organizations that publish a HealthcareService with a specialty of
    our taxonomy's organization section (infusion clinics, home infusion and specialty pharmacies,
    hospitals, clinics): each becomes a listing, in a network or not."""
    with Session(get_engine(app)) as s:
        return set(s.execute(select(Listing.npi).distinct()
                             .join(ListingSpecialty, ListingSpecialty.listing_id == Listing.id)
                             .join(Specialty, Specialty.code == ListingSpecialty.code)
                             .where(Listing.kind == "organization", Listing.active.is_(True),
                                    Specialty.section == "organization")).scalars())


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


def networks(app) -> dict[tuple[str, str], str]:
    """(payer, network name) -> plan type of every network in `app`'s directory."""
    with Session(get_engine(app)) as s:
        return {(payer, name): plan_type for payer, name, plan_type in
                s.execute(select(Network.payer, Network.name, Network.plan_type))}


def writes(app) -> tuple[int, int]:
    """How many audit entries and index changes the directory has recorded."""
    with Session(get_engine(app)) as s:
        return (s.execute(select(func.count()).select_from(AuditEntry)).scalar_one(),
                s.execute(select(func.count()).select_from(IndexChange)).scalar_one())


def change_roles(source_app, n: int, seed: int = 5) -> set[str]:
    """Change n practitioners' participation on the source as its staff would, in turn: a network
    left, a network joined, acceptance of new patients flipped (only for one in a network, where
    it shows); returns their NPIs."""
    rng = random.Random(seed)
    with Session(get_engine(source_app)) as s:
        networks = list(s.execute(select(Network.id)).scalars())
        practitioners = sorted(set(s.execute(select(Role.practitioner_id)).scalars()))
        changed: set[str] = set()
        for lid in rng.sample(practitioners, len(practitioners)):
            if len(changed) == n:
                break
            way = len(changed) % 3
            held = list(s.execute(select(Participation).where(Participation.listing_id == lid)).scalars())
            free = [nid for nid in networks if nid not in {p.network_id for p in held}]
            if way == 0 and held:
                s.delete(held[0])
            elif way == 1 and free:
                s.add(Participation(listing_id=lid, network_id=rng.choice(free), start_date=utcnow().date()))
            elif way == 2 and held:
                for role in s.execute(select(Role).where(Role.practitioner_id == lid)).scalars():
                    role.accepting_new_patients = not role.accepting_new_patients
            else:
                continue
            listing = s.get(Listing, lid)
            listing.updated_at = utcnow()
            changed.add(listing.npi)
        s.commit()
    assert len(changed) == n, f"only {len(changed)} practitioners could be changed"
    return changed
