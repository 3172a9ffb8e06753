"""Listings as the API shows them: rows hydrated from the database in the order search ranked them."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from functools import cache

import numpy as np
from sqlalchemy import CompoundSelect, Connection, Select, bindparam, literal_column, select, union_all
from sqlmodel import Session

from directory.geo import great_circle_mi
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


LOCATION_COLUMNS = (Location.id, Location.name, Location.address, Location.city, Location.state,
                    Location.zip, Location.lat, Location.lon, Location.phone, Location.fax)
LOCATION_KEYS = ("id", "name", "address", "city", "state", "zip", "lat", "lon", "phone", "fax")


# Ids per statement: the places query binds each twice, and SQLite before 3.32 allows 999 parameters.
MAX_STATEMENT_IDS = 256


@cache
def _summary_statements(size: int) -> tuple[Select, Select, Select, CompoundSelect]:
    """What result cards read for `size` listing ids, bound as id0..id{size-1}. Built once per size
    (constructing a statement costs about as much as SQLite running it), and with plain bind
    parameters: an expanding IN list is rewritten on every execution."""
    ids = [bindparam(f"id{i}") for i in range(size)]
    listings = select(
        Listing.id, Listing.kind, Listing.name, Listing.npi, Listing.accepting_new_patients,
        Listing.telehealth, Listing.languages, Listing.last_verified, Listing.is_demo,
    ).where(Listing.id.in_(ids))
    specialties = (
        select(ListingSpecialty.listing_id, Specialty.code, Specialty.display, ListingSpecialty.is_primary)
        .join(Specialty, Specialty.code == ListingSpecialty.code)
        .where(ListingSpecialty.listing_id.in_(ids))
        .order_by(ListingSpecialty.listing_id, ListingSpecialty.is_primary.desc(), Specialty.code)
    )
    networks = (
        select(Participation.listing_id, Network.id, Network.name)
        .join(Network, Network.id == Participation.network_id)
        .where(Participation.listing_id.in_(ids))
        .order_by(Participation.listing_id, Network.payer, Network.name)
    )
    # Own locations (by id), then the locations of a practitioner's roles (by role id): one query.
    own = select(literal_column("0").label("source"), Location.id.label("seq"), Location.listing_id,
                 *LOCATION_COLUMNS).where(Location.listing_id.in_(ids))
    roles = (
        select(literal_column("1"), Role.id, Role.practitioner_id, *LOCATION_COLUMNS)
        .join(Location, Location.id == Role.location_id)
        .where(Role.practitioner_id.in_(ids))
    )
    places = union_all(own, roles).order_by(literal_column("source"), literal_column("seq"))
    return listings, specialties, networks, places


def _id_params(ids: list[int]) -> tuple[int, dict[str, int]]:
    """A statement size for these ids (the next power of two, so that few sizes are ever built)
    and its parameters; the last id fills the spare places, which leaves an IN list's answer
    unchanged."""
    size = 1 << (len(ids) - 1).bit_length()
    padded = ids + [ids[-1]] * (size - len(ids))
    return size, {f"id{i}": lid for i, lid in enumerate(padded)}


def _summary_parts(conn: Connection, ids: list[int]):
    """What result cards show, as plain column tuples (a page is hydrated on every search, so no
    ORM objects): listings, specialties, networks, and places (own locations, then roles')."""
    listings = {}
    specialties = defaultdict(list)
    networks = defaultdict(list)
    places: dict[int, list[dict]] = defaultdict(list)
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), MAX_STATEMENT_IDS):
        size, params = _id_params(unique[start:start + MAX_STATEMENT_IDS])
        listing_sql, specialty_sql, network_sql, place_sql = _summary_statements(size)
        listings.update((row[0], row) for row in conn.execute(listing_sql, params).all())
        for lid, code, display, primary in conn.execute(specialty_sql, params).all():
            specialties[lid].append({"code": code, "display": display, "primary": bool(primary)})
        for lid, nid, name in conn.execute(network_sql, params).all():
            networks[lid].append({"id": nid, "name": name})
        for _, _, lid, *values in conn.execute(place_sql, params).all():
            # A role at one of the listing's own locations (or a second role there) adds no place.
            if all(existing["id"] != values[0] for existing in places[lid]):
                places[lid].append(dict(zip(LOCATION_KEYS, values, strict=True)))
    return listings, specialties, networks, places


def _nearest(places: dict[int, list[dict]], ids: list[int], near: tuple[float, float]) -> dict[int, dict]:
    """Each listing's place nearest to `near`, for listings with several; one vectorized distance
    call for the whole page (per listing, numpy's fixed cost outweighed the arithmetic)."""
    several = [lid for lid in ids if len(places.get(lid, ())) > 1]
    if not several:
        return {}
    candidates = [place for lid in several for place in places[lid]]
    miles = great_circle_mi(near[0], near[1], np.array([p["lat"] for p in candidates]),
                            np.array([p["lon"] for p in candidates])).tolist()
    nearest, start = {}, 0
    for lid in several:
        end = start + len(places[lid])
        nearest[lid] = min(zip(miles[start:end], places[lid], strict=True), key=lambda mp: (mp[0], mp[1]["id"]))[1]
        start = end
    return nearest


def summaries(
    db: Session | Connection, ids: list[int], distances: dict[int, float | None] | None = None,
    near: tuple[float, float] | None = None,
) -> list[dict]:
    """Search results for these listing ids, in the given order, each at its nearest location.

    `db` is a session or, cheaper when nothing else needs one, a plain connection (Core rows)."""
    if not ids:
        return []
    conn = db.connection() if isinstance(db, Session) else db
    listings, specialties, networks, locations = _summary_parts(conn, ids)
    nearest = _nearest(locations, ids, near) if near is not None else {}
    today = date.today()
    results = []
    for lid in ids:
        row = listings.get(lid)
        if row is None:
            continue  # deleted between search and hydration
        _, kind, name, npi, accepting, telehealth, languages, last_verified, is_demo = row
        places = locations[lid]
        place = nearest.get(lid) or (places[0] if places else None)
        item = {"id": lid, "kind": kind, "name": name, "npi": npi}
        if distances is not None and distances.get(lid) is not None:
            item["distance_mi"] = round(distances[lid], 1)
        item.update(
            {
                "location": place,
                "specialties": specialties[lid],
                "networks": networks[lid],
                "accepting_new_patients": accepting,
                "telehealth": telehealth,
                "languages": languages,
                "last_verified": last_verified.isoformat() if last_verified else None,
                "stale": is_stale(last_verified, today),
                "demo": is_demo,
            }
        )
        results.append(item)
    return results


def detail(session: Session, lid: int) -> dict | None:
    """One listing with every location, role, network and what it offers, as the public sees it
    (a deactivated listing too: `active` says so, and the views answer 410 Gone)."""
    listing = session.get(Listing, lid)
    if listing is None:
        return None
    specialties, networks, locations = _related(session, [lid])
    places = locations[lid]
    # The card fields, as `summaries` gives them, from the rows read here (not read again).
    body = {
        "id": lid,
        "kind": listing.kind,
        "name": listing.name,
        "npi": listing.npi,
        "location": location_json(places[0]) if places else None,
        "specialties": specialties[lid],
        "networks": networks[lid],
        "accepting_new_patients": listing.accepting_new_patients,
        "telehealth": listing.telehealth,
        "languages": listing.languages,
        "last_verified": listing.last_verified.isoformat() if listing.last_verified else None,
        "stale": is_stale(listing.last_verified),
        "demo": listing.is_demo,
    }
    body.update(
        {
            "active": listing.active,
            "services": listing.services,
            "website": listing.website,
            "locations": [
                location_json(loc)
                | {"hours": loc.hours, "wheelchair_accessible": loc.wheelchair_accessible,
                   "geo_source": loc.geo_source}
                for loc in locations[lid]
            ],
            # When, how and from where; never who (a staff account is not public).
            "verification": {
                "last_verified": body["last_verified"],
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
