"""The one write path for listings: validate, change rows, audit, record the index change, all in
the caller's transaction.

Callers (views, importers, CLI, test factories) write inside a `directory.services.unit_of_work`,
which commits and then brings the search index up to date before it returns.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from sqlalchemy import delete, select, update
from sqlmodel import Session

from directory import reference
from directory.geo import ZipError, lookup_zip
from directory.models import (
    KINDS,
    MAX_ID,
    ORG_TYPES,
    WEEKDAYS,
    AuditEntry,
    Listing,
    ListingSpecialty,
    Location,
    Network,
    Organization,
    Participation,
    Practitioner,
    Role,
    utcnow,
)
from directory.npi import is_valid_npi
from directory.search.sync import record_change
from directory.services.errors import StaleVersion, ValidationError

PHONE = re.compile(r"^\(?(\d{3})\)?[ .-]?(\d{3})[ .-]?(\d{4})$", re.ASCII)  # ASCII digits only
STATE = re.compile(r"^[A-Za-z]{2}$")
OPENING = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$|^\d\d:\d\d-24:00$", re.ASCII)




STALE_TEMPLATE = ("this listing was changed by someone else (version {current}, you {verb} version {expected}); "
                  "reload it and make your change again")


def claim_listing(session: Session, listing_id: int, expected_version: int | None = None, *,
                  verb: str = "edited") -> Listing:
    """The listing, its row held for this transaction, checked to be still at `expected_version`.

    A no-op UPDATE takes the row first (PostgreSQL's row lock; SQLite's write lock), so of two
    writes to one listing at once the second waits for the first to commit and then finds the
    version changed: never two writes from one version. Raises LookupError or StaleVersion."""
    if expected_version is not None and not 1 <= expected_version <= MAX_ID:
        expected_version = 0  # no row has it: the claim below finds nothing and the write is stale
    claim = update(Listing).where(Listing.id == listing_id)
    if expected_version is not None:
        claim = claim.where(Listing.version == expected_version)
    claimed = session.execute(claim.values(version=Listing.version)
                              .execution_options(synchronize_session=False)).rowcount
    listing = session.get(Listing, listing_id, populate_existing=True)
    if listing is None:
        raise LookupError(f"no listing {listing_id}")
    if claimed != 1:
        raise StaleVersion(STALE_TEMPLATE.format(current=listing.version, verb=verb, expected=expected_version))
    return listing


@dataclass
class LocationInput:
    address: str
    zip: str
    city: str = ""
    state: str = ""
    name: str | None = None
    phone: str | None = None
    fax: str | None = None
    hours: dict = field(default_factory=dict)
    wheelchair_accessible: bool = False
    id: int | None = None  # the stored location this updates; None adds a new one


@dataclass
class ListingInput:
    kind: str
    npi: str
    name: str
    specialties: list[str]
    locations: list[LocationInput]
    primary_specialty: str | None = None
    networks: list[int] = field(default_factory=list)
    accepting_new_patients: bool = False
    telehealth: bool = False
    languages: list[str] = field(default_factory=lambda: ["en"])
    services: list[str] = field(default_factory=list)
    website: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    credentials: str | None = None
    org_type: str = "infusion_center"
    ivig_products: list[str] = field(default_factory=list)
    source: str = "staff"


def format_phone(raw: str | None) -> str | None:
    """'6175550123' -> '(617) 555-0123'; None stays None; raises ValueError if not 10 digits."""
    if raw is None or not raw.strip():
        return None
    match = PHONE.match(raw.strip())
    if not match:
        raise ValueError("a US phone number has 10 digits, like (617) 555-0123")
    return "({}) {}-{}".format(*match.groups())


def _hours_error(hours) -> str | None:
    """Opening hours are {day: "HH:MM-HH:MM" or None} with days mon..sun; a message if not."""
    if not isinstance(hours, dict):
        return "opening hours are a mapping of days (mon..sun) to HH:MM-HH:MM"
    for day, opening in hours.items():
        if day not in WEEKDAYS:
            return f"unknown day {day!r} in opening hours (use {', '.join(WEEKDAYS)})"
        if opening is not None and not (isinstance(opening, str) and OPENING.match(opening)):
            return f"opening hours for {day} must look like 08:00-17:00"
    return None


# The longest text each field takes, in characters: no real name comes near, and PostgreSQL's search
# index cannot hold a word over 2047 bytes (a 10 kB name was a 500 there, from the staff form and
# from imports alike).
TEXT_MAX = {"name": 200, "first_name": 100, "last_name": 100, "credentials": 100, "website": 2000}
LOCATION_TEXT_MAX = {"address": 200, "city": 100, "name": 200}
ITEM_MAX = 100  # one IVIG product, language or service code
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _text_errors(data: ListingInput) -> dict[str, str]:
    """Texts too long to store and search, or holding control characters (NUL included)."""
    errors: dict[str, str] = {}
    for name, limit in TEXT_MAX.items():
        value = getattr(data, name) or ""
        if len(value) > limit:
            errors[name] = f"at most {limit} characters"
        elif CONTROL.search(value):
            errors[name] = "control characters are not allowed"
    for i, loc in enumerate(data.locations):
        for name, limit in LOCATION_TEXT_MAX.items():
            value = getattr(loc, name) or ""
            if len(value) > limit:
                errors[f"locations.{i}.{name}"] = f"at most {limit} characters"
            elif CONTROL.search(value):
                errors[f"locations.{i}.{name}"] = "control characters are not allowed"
    if any(len(item) > ITEM_MAX or CONTROL.search(item) for item in data.ivig_products):
        errors["ivig_products"] = f"each product at most {ITEM_MAX} characters, without control characters"
    return errors


def validate(session: Session, data: ListingInput) -> dict[str, str]:
    """Every problem with `data`, by field; empty when it can be saved."""
    errors: dict[str, str] = _text_errors(data)
    if data.kind not in KINDS:
        errors["kind"] = "kind must be organization or practitioner"
    elif data.kind == "organization" and data.org_type not in ORG_TYPES:
        errors["org_type"] = f"org_type must be one of {', '.join(ORG_TYPES)}"
    if not is_valid_npi(data.npi or ""):
        errors["npi"] = "an NPI is 10 digits with a valid check digit"
    if not (data.name or "").strip():
        errors["name"] = "a name is required"
    taxonomy = reference.taxonomy()
    if not data.specialties:
        errors["specialties"] = "at least one specialty is required"
    elif unknown := [c for c in data.specialties if c not in taxonomy]:
        errors["specialties"] = f"unknown specialty code {unknown[0]}"
    if data.primary_specialty and data.primary_specialty not in data.specialties:
        errors["primary_specialty"] = "the primary specialty must be one of the specialties"
    if not data.locations and data.kind != "practitioner":
        # A practitioner may practise only at organizations' locations (roles), with none of its own.
        errors["locations"] = "at least one location is required"
    for i, loc in enumerate(data.locations):
        if not (loc.address or "").strip():
            errors[f"locations.{i}.address"] = "an address is required"
        try:
            lookup_zip(loc.zip)
        except ZipError as error:
            errors[f"locations.{i}.zip"] = str(error)
        if (loc.state or "").strip() and not STATE.match(loc.state.strip()):
            errors[f"locations.{i}.state"] = "a state is its two-letter code, like MA"
        if error := _hours_error(loc.hours):
            errors[f"locations.{i}.hours"] = error
        for name in ("phone", "fax"):
            try:
                format_phone(getattr(loc, name))
            except ValueError as error:
                errors[f"locations.{i}.{name}"] = str(error)
    if out_of_range := [n for n in data.networks if not 1 <= n <= MAX_ID]:
        errors["networks"] = f"unknown network id {out_of_range[0]}"
    elif data.networks:
        found = set(session.execute(select(Network.id).where(Network.id.in_(data.networks))).scalars())
        if missing := set(data.networks) - found:
            errors["networks"] = f"unknown network id {min(missing)}"
    if unknown := [code for code in data.languages if code not in reference.languages()]:
        errors["languages"] = f"unknown language {unknown[0]}"
    service_ids = {c.id for c in reference.vocabulary().services()}
    if unknown := [s for s in data.services if s not in service_ids]:
        errors["services"] = f"unknown service {unknown[0]}"
    if data.kind == "practitioner" and not (data.first_name and data.last_name):
        errors["last_name"] = "a practitioner needs a first and last name"
    return errors


def _location_values(loc: LocationInput) -> dict:
    place = lookup_zip(loc.zip)
    return {
        "name": loc.name,
        "address": loc.address.strip(),
        "city": loc.city.strip() or place.city,
        "state": (loc.state.strip() or place.state).upper(),
        "zip": place.zip,
        "lat": place.lat,
        "lon": place.lon,
        "geo_source": "zip_centroid",
        "phone": format_phone(loc.phone),
        "fax": format_phone(loc.fax),
        "hours": loc.hours,
        "wheelchair_accessible": loc.wheelchair_accessible,
    }


def _location_id_errors(session: Session, listing_id: int | None, locations: list[LocationInput]) -> dict[str, str]:
    """Locations named by id must be this listing's own, each named once."""
    errors: dict[str, str] = {}
    named = [(i, loc.id) for i, loc in enumerate(locations) if loc.id is not None]
    if not named:
        return errors
    own = set() if listing_id is None else set(session.execute(
        select(Location.id).where(Location.listing_id == listing_id)).scalars())
    seen: set[int] = set()
    for i, location_id in named:
        if location_id not in own:
            errors[f"locations.{i}.id"] = f"location {location_id} is not one of this listing's locations"
        elif location_id in seen:
            errors[f"locations.{i}.id"] = f"location {location_id} is given twice"
        seen.add(location_id)
    return errors


def _remove_location(session: Session, location: Location, actor: str) -> None:
    """Delete one of a listing's locations and, each with its own audit entry, the roles held there."""
    roles = session.execute(select(Role).where(Role.location_id == location.id).order_by(Role.id)).scalars().all()
    for role in roles:
        session.add(AuditEntry(actor=actor, listing_id=role.practitioner_id, action="role.remove", changes={
            "role": [{"id": role.id, "organization_id": role.organization_id, "location_id": role.location_id,
                      "specialty_code": role.specialty_code}, None],
            "reason": [None, f"location {location.id} was removed from listing {location.listing_id}"],
        }))
        record_change(session, role.practitioner_id)
        session.delete(role)
    session.flush()
    session.delete(location)


def _write_locations(session: Session, listing_id: int, locations: list[LocationInput], actor: str) -> None:
    """Match locations by id: a named one is updated in place (its roles stay), one without an id is
    added, and a stored one left out is removed with the roles held there. Nothing else moves."""
    existing = {loc.id: loc for loc in session.execute(
        select(Location).where(Location.listing_id == listing_id)).scalars()}
    kept = {loc.id for loc in locations if loc.id is not None}
    for location_id in sorted(set(existing) - kept):
        _remove_location(session, existing[location_id], actor)
    for loc in locations:
        values = _location_values(loc)
        if loc.id is not None:
            for key, value in values.items():
                setattr(existing[loc.id], key, value)
        else:
            session.add(Location(listing_id=listing_id, **values))


def _write_children(session: Session, listing: Listing, data: ListingInput, actor: str) -> None:
    lid = listing.id
    session.execute(delete(ListingSpecialty).where(ListingSpecialty.listing_id == lid))
    primary = data.primary_specialty or data.specialties[0]
    for code in dict.fromkeys(data.specialties):
        session.add(ListingSpecialty(listing_id=lid, code=code, is_primary=code == primary))
    # Networks still chosen keep their rows (and the participation dates an import or the demo set);
    # only the others are removed or added.
    wanted = list(dict.fromkeys(data.networks))
    session.execute(delete(Participation).where(Participation.listing_id == lid,
                                                Participation.network_id.not_in(wanted)))
    held = set(session.execute(select(Participation.network_id)
                               .where(Participation.listing_id == lid)).scalars())
    for network_id in wanted:
        if network_id not in held:
            session.add(Participation(listing_id=lid, network_id=network_id))
    _write_locations(session, lid, data.locations, actor)
    if listing.kind == "organization":
        org = session.get(Organization, lid) or Organization(listing_id=lid, org_type=data.org_type)
        org.org_type, org.ivig_products = data.org_type, list(data.ivig_products)
        session.add(org)
    else:
        prac = session.get(Practitioner, lid) or Practitioner(
            listing_id=lid, first_name=data.first_name, last_name=data.last_name
        )
        prac.first_name, prac.last_name = data.first_name, data.last_name
        prac.credentials = data.credentials
        session.add(prac)


def _listing_values(data: ListingInput) -> dict:
    return {
        "kind": data.kind,
        "npi": data.npi,
        "name": data.name.strip(),
        "accepting_new_patients": data.accepting_new_patients,
        "telehealth": data.telehealth,
        "languages": list(dict.fromkeys(data.languages)),
        "services": list(dict.fromkeys(data.services)),
        "website": data.website,
    }


def _children(session: Session, listing_id: int) -> dict:
    """A listing's specialties, networks and locations as plain values, for the audit trail."""
    specialties = session.execute(
        select(ListingSpecialty.code, ListingSpecialty.is_primary)
        .where(ListingSpecialty.listing_id == listing_id).order_by(ListingSpecialty.code)
    ).all()
    networks = session.execute(
        select(Participation.network_id).where(Participation.listing_id == listing_id)
        .order_by(Participation.network_id)
    ).scalars().all()
    locations = session.execute(
        select(Location.address, Location.city, Location.state, Location.zip, Location.phone, Location.fax)
        .where(Location.listing_id == listing_id).order_by(Location.id)
    ).all()
    return {
        "specialties": [f"{code}{' (primary)' if primary else ''}" for code, primary in specialties],
        "networks": list(networks),
        "locations": [", ".join(part or "" for part in row) for row in locations],
    }


def create_listing(session: Session, data: ListingInput, actor: str) -> Listing:
    """Add a listing with its places, specialties and networks; audit and queue the index change."""
    if errors := validate(session, data) | _location_id_errors(session, None, data.locations):
        raise ValidationError(errors)
    if session.execute(select(Listing.id).where(Listing.npi == data.npi)).first():
        raise ValidationError({"npi": f"a listing with NPI {data.npi} already exists"})
    listing = Listing(**_listing_values(data), source=data.source)
    session.add(listing)
    session.flush()
    _write_children(session, listing, data, actor)
    session.add(AuditEntry(actor=actor, listing_id=listing.id, action="create",
                           changes={k: [None, v] for k, v in asdict(data).items()}))
    record_change(session, listing.id)
    session.flush()
    return listing


def affiliated_practitioners(session: Session, organization_id: int) -> set[int]:
    """Practitioners whose search documents show this organization (its name, its places)."""
    return set(session.execute(
        select(Role.practitioner_id).join(Location, Location.id == Role.location_id)
        .where((Location.listing_id == organization_id) | (Role.organization_id == organization_id))
    ).scalars())


def update_listing(session: Session, listing_id: int, data: ListingInput, actor: str,
                   expected_version: int | None = None) -> Listing:
    """Replace a listing's fields and children; refuses if `expected_version` is out of date."""
    listing = claim_listing(session, listing_id, expected_version)
    if errors := validate(session, data) | _location_id_errors(session, listing_id, data.locations):
        raise ValidationError(errors)
    clash = session.execute(
        select(Listing.id).where(Listing.npi == data.npi, Listing.id != listing_id)
    ).first()
    if clash:
        raise ValidationError({"npi": f"a listing with NPI {data.npi} already exists"})
    before = {k: getattr(listing, k) for k in _listing_values(data)} | _children(session, listing_id)
    for key, value in _listing_values(data).items():
        setattr(listing, key, value)
    listing.version += 1
    listing.updated_at = utcnow()
    affected = affiliated_practitioners(session, listing_id)
    _write_children(session, listing, data, actor)
    session.flush()
    after = _listing_values(data) | _children(session, listing_id)
    changes = {k: [before[k], v] for k, v in after.items() if before[k] != v}
    session.add(AuditEntry(actor=actor, listing_id=listing_id, action="update", changes=changes))
    record_change(session, listing_id)
    for practitioner_id in sorted(affected):
        record_change(session, practitioner_id)
    session.flush()
    return listing


def set_active(session: Session, listing_id: int, active: bool, actor: str,
               expected_version: int | None = None) -> Listing:
    """Deactivate (soft delete, hidden from search) or restore a listing."""
    listing = claim_listing(session, listing_id, expected_version)
    if listing.active != active:
        listing.active = active
        listing.version += 1
        listing.updated_at = utcnow()
        session.add(AuditEntry(actor=actor, listing_id=listing_id,
                               action="restore" if active else "deactivate",
                               changes={"active": [not active, active]}))
        record_change(session, listing_id)
        session.flush()
    return listing


def delete_listing(session: Session, listing_id: int, actor: str) -> None:
    """Remove a listing and everything that hangs off it (cascading foreign keys)."""
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise LookupError(f"no listing {listing_id}")
    session.add(AuditEntry(actor=actor, listing_id=listing_id, action="delete",
                           changes={"name": [listing.name, None], "npi": [listing.npi, None]}))
    affected = affiliated_practitioners(session, listing_id)
    session.delete(listing)
    record_change(session, listing_id)
    for practitioner_id in sorted(affected):
        record_change(session, practitioner_id)
    session.flush()
