"""Listings as the API shows them: rows hydrated from the database in the order search ranked them."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import select
from sqlmodel import Session

from directory.geo import geopy_miles
from directory.models import (
    STALE_AFTER_DAYS,
    Listing,
    ListingSpecialty,
    Location,
    Network,
    Organization,
    Participation,
    Practitioner,
    Role,
    Specialty,
)


def is_stale(last_verified: date | None, today: date | None = None) -> bool:
    """Unverified, or verified more than 90 days ago."""
    today = today or date.today()
    return last_verified is None or today - last_verified > timedelta(days=STALE_AFTER_DAYS)


def location_json(loc: Location) -> dict:
    return {
        "id": loc.id,
        "name": loc.name,
        "address": loc.address,
        "city": loc.city,
        "state": loc.state,
        "zip": loc.zip,
        "lat": loc.lat,
        "lon": loc.lon,
        "phone": loc.phone,
        "fax": loc.fax,
    }


def _related(session: Session, ids: list[int]):
    specialties = defaultdict(list)
    rows = session.execute(
        select(ListingSpecialty.listing_id, Specialty.code, Specialty.display, ListingSpecialty.is_primary)
        .join(Specialty, Specialty.code == ListingSpecialty.code)
        .where(ListingSpecialty.listing_id.in_(ids))
        .order_by(ListingSpecialty.listing_id, ListingSpecialty.is_primary.desc(), Specialty.code)
    ).all()
    for lid, code, display, primary in rows:
        specialties[lid].append({"code": code, "display": display, "primary": bool(primary)})
    networks = defaultdict(list)
    rows = session.execute(
        select(Participation.listing_id, Network.id, Network.name, Network.payer, Network.plan_type)
        .join(Network, Network.id == Participation.network_id)
        .where(Participation.listing_id.in_(ids))
        .order_by(Participation.listing_id, Network.payer, Network.name)
    ).all()
    for lid, nid, name, payer, plan_type in rows:
        networks[lid].append({"id": nid, "name": name, "payer": payer, "plan_type": plan_type})
    locations = defaultdict(list)
    for loc in session.execute(
        select(Location).where(Location.listing_id.in_(ids)).order_by(Location.id)
    ).scalars():
        locations[loc.listing_id].append(loc)
    for pid, loc in session.execute(
        select(Role.practitioner_id, Location)
        .join(Location, Location.id == Role.location_id)
        .where(Role.practitioner_id.in_(ids))
        .order_by(Role.id)
    ).all():
        if all(existing.id != loc.id for existing in locations[pid]):
            locations[pid].append(loc)
    return specialties, networks, locations


def summaries(
    session: Session, ids: list[int], distances: dict[int, float | None] | None = None,
    near: tuple[float, float] | None = None,
) -> list[dict]:
    """Search results for these listing ids, in the given order, each at its nearest location."""
    if not ids:
        return []
    listings = {
        row.id: row for row in session.execute(select(Listing).where(Listing.id.in_(ids))).scalars()
    }
    specialties, networks, locations = _related(session, ids)
    today = date.today()
    results = []
    for lid in ids:
        listing = listings.get(lid)
        if listing is None:
            continue  # deleted between search and hydration
        places = locations[lid]
        if near is not None and places:
            place = min(places, key=lambda loc: (geopy_miles(near, (loc.lat, loc.lon)), loc.id))
        else:
            place = places[0] if places else None
        item = {
            "id": listing.id,
            "kind": listing.kind,
            "name": listing.name,
            "npi": listing.npi,
        }
        if distances is not None and distances.get(lid) is not None:
            item["distance_mi"] = round(distances[lid], 1)
        item.update(
            {
                "location": location_json(place) if place else None,
                "specialties": specialties[lid],
                "networks": [{"id": n["id"], "name": n["name"]} for n in networks[lid]],
                "accepting_new_patients": listing.accepting_new_patients,
                "telehealth": listing.telehealth,
                "languages": listing.languages,
                "last_verified": listing.last_verified.isoformat() if listing.last_verified else None,
                "stale": is_stale(listing.last_verified, today),
                "demo": listing.is_demo,
            }
        )
        results.append(item)
    return results


def detail(session: Session, lid: int) -> dict | None:
    """One listing with every location, role, network and what it offers."""
    listing = session.get(Listing, lid)
    if listing is None:
        return None
    specialties, networks, locations = _related(session, [lid])
    body = summaries(session, [lid])[0]
    body.update(
        {
            "active": listing.active,
            "services": listing.services,
            "website": listing.website,
            "networks": networks[lid],
            "locations": [
                location_json(loc)
                | {"hours": loc.hours, "wheelchair_accessible": loc.wheelchair_accessible,
                   "geo_source": loc.geo_source}
                for loc in locations[lid]
            ],
            "verification": {
                "last_verified": body["last_verified"],
                "verified_by": listing.verified_by,
                "method": listing.verification_method,
                "source": listing.source,
            },
        }
    )
    if listing.kind == "organization":
        org = session.get(Organization, lid)
        if org is not None:
            body["organization"] = {
                "type": org.org_type,
                "ivig_products": org.ivig_products,
                "chairs": org.chairs,
                "pediatric": org.pediatric,
                "prior_auth_help": org.prior_auth_help,
            }
        body["practitioners"] = [
            {"id": pid, "name": name, "location_id": loc_id}
            for pid, name, loc_id in session.execute(
                select(Role.practitioner_id, Listing.name, Role.location_id)
                .join(Listing, Listing.id == Role.practitioner_id)
                .where(Role.organization_id == lid, Listing.active.is_(True))
                .order_by(Listing.name, Listing.id)
            ).all()
        ]
    else:
        prac = session.get(Practitioner, lid)
        if prac is not None:
            body["practitioner"] = {
                "first_name": prac.first_name,
                "last_name": prac.last_name,
                "credentials": prac.credentials,
                "gender": prac.gender,
            }
        body["roles"] = [
            {
                "organization_id": org_id,
                "organization_name": org_name,
                "location_id": role.location_id,
                "specialty": role.specialty_code,
                "accepting_new_patients": role.accepting_new_patients,
                "telehealth": role.telehealth,
            }
            for role, org_id, org_name in session.execute(
                select(Role, Listing.id, Listing.name)
                .outerjoin(Listing, Listing.id == Role.organization_id)
                .where(Role.practitioner_id == lid)
                .order_by(Role.id)
            ).all()
        ]
    return body
