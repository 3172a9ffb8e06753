"""Listings as the public sees them (`shapes`), hydrated from the database: result cards in the
order search ranked them, and one listing with everything known about it."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from functools import cache

import numpy as np
from sqlalchemy import CompoundSelect, Connection, Dialect, Row, Select, bindparam, literal_column, select, union_all
from sqlalchemy.engine.interfaces import Compiled
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
from directory.read.shapes import (
    ClinicianRef,
    ListingCard,
    ListingDetail,
    ListingSpecialtyPublic,
    LocationPublic,
    NetworkPublic,
    NetworkRef,
    OrganizationPublic,
    PlacePublic,
    PractitionerPublic,
    RolePublic,
    VerificationPublic,
    construct,
    distance_basis,
)

STALE_AFTER = timedelta(days=STALE_AFTER_DAYS)


def is_stale(last_verified: date | None, today: date | None = None) -> bool:
    """Unverified, or verified more than 90 days ago."""
    return last_verified is None or (today or date.today()) - last_verified > STALE_AFTER


# The columns of a location as its public shape names them (id, name, address ... fax).
LOCATION_KEYS = tuple(LocationPublic.model_fields)
LOCATION_COLUMNS = tuple(getattr(Location, key) for key in LOCATION_KEYS)
PLACE_KEYS = tuple(PlacePublic.model_fields)
LISTING_COLUMNS = (Listing.id, Listing.kind, Listing.name, Listing.npi, Listing.accepting_new_patients,
                   Listing.telehealth, Listing.languages, Listing.last_verified, Listing.is_demo)


def listing_values(row: tuple, location: LocationPublic | None, specialties: list, networks: list,
                    today: date) -> dict:
    """The fields of `ListingPublic` (what a card and a listing's page both show), from the columns
    of `LISTING_COLUMNS`."""
    lid, kind, name, npi, accepting, telehealth, languages, last_verified, is_demo = row
    return {
        "id": lid,
        "kind": kind,
        "name": name,
        "npi": npi,
        "location": location,
        "specialties": specialties,
        "networks": networks,
        "accepting_new_patients": accepting,
        "telehealth": telehealth,
        "languages": languages,
        "last_verified": last_verified,
        "stale": is_stale(last_verified, today),
        "demo": is_demo,
    }


# A place row: source (own 0, role 1), sequence, listing id, then the columns of LOCATION_KEYS
# (read by position: a Row's attributes cost more than the arithmetic done with them).
PLACE_LISTING, PLACE_AT = 2, 3
PLACE_ID, PLACE_LAT, PLACE_LON, PLACE_GEO_SOURCE = (PLACE_AT + LOCATION_KEYS.index(key)
                                                   for key in ("id", "lat", "lon", "geo_source"))

# Ids per statement: the places query binds each twice, and SQLite before 3.32 allows 999 parameters.
MAX_STATEMENT_IDS = 256


@cache
def _card_statements(size: int) -> tuple[Select, Select, Select, CompoundSelect]:
    """What result cards read for `size` listing ids, bound as id0..id{size-1}. Built once per size
    (constructing a statement costs about as much as SQLite running it), and with plain bind
    parameters: an expanding IN list is rewritten on every execution."""
    ids = [bindparam(f"id{i}") for i in range(size)]
    listings = select(*LISTING_COLUMNS).where(Listing.id.in_(ids))
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


# A specialty or a network is shown on many cards: each is built once and shared (shapes are
# values, never changed after hydration). Bounded, though the taxonomy and networks are small.
_shared: dict[tuple, ListingSpecialtyPublic | NetworkRef] = {}
MAX_SHARED = 50_000


def specialty_shape(code: str, display: str, primary: bool) -> ListingSpecialtyPublic:
    key = (code, display, primary)
    if (shape := _shared.get(key)) is None:
        if len(_shared) >= MAX_SHARED:
            _shared.clear()
        shape = _shared[key] = construct(ListingSpecialtyPublic, {"code": code, "display": display,
                                                                  "primary": bool(primary)})
    return shape


def network_shape(nid: int, name: str) -> NetworkRef:
    key = (nid, name)
    if (shape := _shared.get(key)) is None:
        if len(_shared) >= MAX_SHARED:
            _shared.clear()
        shape = _shared[key] = construct(NetworkRef, {"id": nid, "name": name})
    return shape


def card_parts(conn: Connection, ids: list[int]):
    """What result cards show, from plain column tuples (a page is hydrated on every search, so no
    ORM objects): listings, specialties, networks, and places (own locations, then roles', as rows
    with the columns of `LOCATION_KEYS` from the fourth on)."""
    listings = {}
    specialties = defaultdict(list)
    networks = defaultdict(list)
    places: dict[int, list[Row]] = defaultdict(list)
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), MAX_STATEMENT_IDS):
        size, params = _id_params(unique[start:start + MAX_STATEMENT_IDS])
        listing_sql, specialty_sql, network_sql, place_sql = _card_statements(size)
        listings.update((row[0], row) for row in conn.execute(listing_sql, params).all())
        for lid, code, display, primary in conn.execute(specialty_sql, params).all():
            specialties[lid].append(specialty_shape(code, display, primary))
        for lid, nid, name in conn.execute(network_sql, params).all():
            networks[lid].append(network_shape(nid, name))
        for place in conn.execute(place_sql, params).all():
            # A role at one of the listing's own locations (or a second role there) adds no place.
            own = places[place[PLACE_LISTING]]
            if all(existing[PLACE_ID] != place[PLACE_ID] for existing in own):
                own.append(place)
    return listings, specialties, networks, places


def location_shape(place: Row) -> LocationPublic:
    return construct(LocationPublic, dict(zip(LOCATION_KEYS, place[PLACE_AT:], strict=True)))


def _nearest(places: dict[int, list[Row]], ids: list[int], near: tuple[float, float]) -> dict[int, Row]:
    """Each listing's place nearest to `near`, for listings with several; one vectorized distance
    call for the whole page (per listing, numpy's fixed cost outweighed the arithmetic)."""
    several = [lid for lid in ids if len(places.get(lid, ())) > 1]
    if not several:
        return {}
    candidates = [place for lid in several for place in places[lid]]
    miles = great_circle_mi(near[0], near[1], np.array([p[PLACE_LAT] for p in candidates]),
                            np.array([p[PLACE_LON] for p in candidates])).tolist()
    nearest, start = {}, 0
    for lid in several:
        end = start + len(places[lid])
        nearest[lid] = min(zip(miles[start:end], places[lid], strict=True), key=lambda mp: (mp[0], mp[1][PLACE_ID]))[1]
        start = end
    return nearest


def _known_nearest(places: dict[int, list[Row]], location_ids: dict[int, int]) -> dict[int, Row]:
    """The places search named as each listing's nearest (by location id), where it named one."""
    return {lid: place for lid, loc_id in location_ids.items() for place in places.get(lid, ())
            if place[PLACE_ID] == loc_id}


def cards(
    db: Session | Connection, ids: list[int], distances: dict[int, float | None] | None = None,
    near: tuple[float, float] | None = None, nearest_location: dict[int, int] | None = None,
) -> list[ListingCard]:
    """Search results for these listing ids, in the given order, each at its nearest location.

    `distances` are miles from the place searched (`near`, latitude and longitude in degrees);
    `nearest_location` maps a listing id to its nearest location's id where search already knows
    it, so that only the other listings' nearest places are computed here. `db` is a session or,
    cheaper when nothing else needs one, a plain connection (Core rows)."""
    if not ids:
        return []
    conn = db.connection() if isinstance(db, Session) else db
    listings, specialties, networks, places = card_parts(conn, ids)
    nearest = _known_nearest(places, nearest_location) if nearest_location else {}
    if near is not None:
        unknown = [lid for lid in ids if lid not in nearest]
        nearest.update(_nearest(places, unknown, near))
    today = date.today()
    results = []
    for lid in ids:
        row = listings.get(lid)
        if row is None:
            continue  # deleted between search and hydration
        own = places[lid]
        place = nearest.get(lid) or (own[0] if own else None)
        values = listing_values(row, None if place is None else location_shape(place), specialties[lid],
                                 networks[lid], today)
        distance = None if distances is None or place is None else distances.get(lid)
        values["distance_mi"] = None if distance is None else round(distance, 1)
        values["distance_basis"] = None if distance is None else distance_basis(place[PLACE_GEO_SOURCE])
        results.append(construct(ListingCard, values))
    return results


@cache
def _detail_statements() -> tuple[Select, Select, Select, CompoundSelect, Select, Select]:
    """What one listing's page reads, bound as :lid; built once (constructing a statement cost
    more than SQLite running it): the listing with its organization or practitioner row,
    specialties, networks, places (own, then its roles'), the practitioners at an organization
    and a practitioner's roles."""
    lid = bindparam("lid")
    listing = (
        select(*LISTING_COLUMNS, *DETAIL_COLUMNS, Organization.listing_id, *ORGANIZATION_COLUMNS,
               Practitioner.listing_id, *PRACTITIONER_COLUMNS)
        .outerjoin(Organization, Organization.listing_id == Listing.id)
        .outerjoin(Practitioner, Practitioner.listing_id == Listing.id)
        .where(Listing.id == lid)
    )
    specialties = (
        select(Specialty.code, Specialty.display, ListingSpecialty.is_primary)
        .join(Specialty, Specialty.code == ListingSpecialty.code)
        .where(ListingSpecialty.listing_id == lid)
        .order_by(ListingSpecialty.is_primary.desc(), Specialty.code)
    )
    networks = (
        select(Network.id, Network.name, Network.payer, Network.plan_type)
        .join(Participation, Network.id == Participation.network_id)
        .where(Participation.listing_id == lid)
        .order_by(Network.payer, Network.name)
    )
    own = select(literal_column("0").label("source"), Location.id.label("seq"), *PLACE_COLUMNS).where(
        Location.listing_id == lid)
    at_roles = (select(literal_column("1"), Role.id, *PLACE_COLUMNS).join(Location, Location.id == Role.location_id)
                .where(Role.practitioner_id == lid))
    places = union_all(own, at_roles).order_by(literal_column("source"), literal_column("seq"))
    practitioners = (
        select(Role.practitioner_id, Listing.name, Role.location_id)
        .join(Listing, Listing.id == Role.practitioner_id)
        .where(Role.organization_id == lid, Listing.active.is_(True))
        .order_by(Listing.name, Listing.id)
    )
    roles = (
        select(Listing.id, Listing.name, Role.location_id, Role.specialty_code, Role.accepting_new_patients,
               Role.telehealth)
        .select_from(Role)
        .outerjoin(Listing, Listing.id == Role.organization_id)
        .where(Role.practitioner_id == lid)
        .order_by(Role.id)
    )
    return listing, specialties, networks, places, practitioners, roles


PLACE_COLUMNS = tuple(getattr(Location, key) for key in PLACE_KEYS)
DETAIL_COLUMNS = (Listing.active, Listing.services, Listing.website, Listing.verification_method, Listing.source)
ORGANIZATION_COLUMNS = (Organization.org_type, Organization.ivig_products, Organization.chairs,
                        Organization.pediatric, Organization.prior_auth_help)
PRACTITIONER_COLUMNS = (Practitioner.first_name, Practitioner.last_name, Practitioner.credentials,
                        Practitioner.gender)


@cache
def _compiled(statement: Select, dialect: Dialect) -> Compiled:
    return statement.compile(dialect=dialect)


def _plain_rows(conn: Connection, statement: Select, lid: int) -> list[tuple]:
    """The rows of a statement of plain columns (numbers, text, booleans as the driver gives them)
    bound as :lid, run on the driver's cursor: SQLAlchemy's execution cost more than SQLite
    answering these."""
    compiled = _compiled(statement, conn.dialect)
    params = compiled.construct_params({"lid": lid})
    if compiled.positional:
        params = tuple(params[name] for name in compiled.positiontup)
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(compiled.string, params)
        return cursor.fetchall()
    finally:
        cursor.close()


def detail(db: Session | Connection, lid: int) -> ListingDetail | None:
    """One listing with every location, role and network and what it offers, as the public sees
    it (a deactivated listing too: `active` says so, and the views answer 410 Gone). Plain rows
    from statements built once: this is every listing page and every /api/v1/providers/<id>."""
    conn = db.connection() if isinstance(db, Session) else db
    listing_sql, specialty_sql, network_sql, place_sql, practitioner_sql, role_sql = _detail_statements()
    params = {"lid": lid}
    row = conn.execute(listing_sql, params).first()
    if row is None:
        return None
    n = len(LISTING_COLUMNS)
    active, services, website, method, source = row[n : n + 5]
    org_at = n + 5
    prac_at = org_at + 1 + len(ORGANIZATION_COLUMNS)
    specialties = [specialty_shape(code, display, primary)
                   for code, display, primary in _plain_rows(conn, specialty_sql, lid)]
    networks = [construct(NetworkPublic, {"id": nid, "name": name, "payer": payer, "plan_type": plan_type})
                for nid, name, payer, plan_type in _plain_rows(conn, network_sql, lid)]
    places, seen = [], set()
    for place in conn.execute(place_sql, params).all():
        if place[2] not in seen:  # a role at one of its own places adds none
            seen.add(place[2])
            places.append(dict(zip(PLACE_KEYS, place[2:], strict=True)))
    first = construct(LocationPublic, {key: places[0][key] for key in LOCATION_KEYS}) if places else None
    values = listing_values(tuple(row[:n]), first, specialties, networks, date.today())
    values.update(
        active=active,
        services=services,
        website=website,
        locations=[construct(PlacePublic, place) for place in places],
        # When, how and from where; never who (a staff account is not public).
        verification=construct(VerificationPublic, {"last_verified": values["last_verified"],
                                                    "method": method, "source": source}),
        organization=None, practitioners=None, practitioner=None, roles=None,
    )
    if values["kind"] == "organization":
        if row[org_at] is not None:
            org_type, products, chairs, pediatric, prior_auth = row[org_at + 1 : prac_at]
            values["organization"] = construct(OrganizationPublic, {
                "type": org_type, "ivig_products": products, "chairs": chairs,
                "pediatric": pediatric, "prior_auth_help": prior_auth,
            })
        values["practitioners"] = [
            construct(ClinicianRef, {"id": pid, "name": name, "location_id": loc_id})
            for pid, name, loc_id in _plain_rows(conn, practitioner_sql, lid)
        ]
    else:
        if row[prac_at] is not None:
            first_name, last_name, credentials, gender = row[prac_at + 1 :]
            values["practitioner"] = construct(PractitionerPublic, {
                "first_name": first_name, "last_name": last_name, "credentials": credentials, "gender": gender,
            })
        values["roles"] = [
            construct(RolePublic, {
                "organization_id": org_id, "organization_name": org_name, "location_id": loc_id,
                "specialty": specialty, "accepting_new_patients": bool(accepting), "telehealth": bool(telehealth),
            })
            for org_id, org_name, loc_id, specialty, accepting, telehealth in _plain_rows(conn, role_sql, lid)
        ]
    return construct(ListingDetail, values)
