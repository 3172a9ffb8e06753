"""What a listing is made of when it is written (`ListingInput`, `LocationInput`) and every rule it
must meet (`validate`): the one validation of a listing, used by the listing service, the staff
form and every importer. Nothing here writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session

from directory import reference
from directory.geo import ZipError, lookup_zip
from directory.models import KINDS, MAX_ID, ORG_TYPES, WEEKDAYS, Network
from directory.npi import is_valid_npi

PHONE = re.compile(r"^\(?(\d{3})\)?[ .-]?(\d{3})[ .-]?(\d{4})$", re.ASCII)  # ASCII digits only
STATE = re.compile(r"^[A-Za-z]{2}$")
OPENING = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$|^\d\d:\d\d-24:00$", re.ASCII)


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
