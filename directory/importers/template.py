"""Our own CSV template: one row per listing-location; rows sharing an NPI are one listing.

Columns (`TEMPLATE_HEADER`; order does not matter, names do):

- npi: 10 digits with a valid check digit (required)
- kind: organization | practitioner (required)
- name: the listing's display name (required)
- first_name, last_name, credentials: practitioners only (first and last name required for them)
- org_type: organizations only: infusion_center, home_infusion, hospital_infusion, specialty_pharmacy,
  practice (default infusion_center)
- specialties: NUCC taxonomy codes separated by ";", the first is the primary one (required)
- networks: network ids (see `import-networks`) separated by ";"
- accepting_new_patients, telehealth: yes/no (also true/false, y/n, 1/0; empty means no)
- languages: language codes from seed_data/languages.csv separated by ";" (empty means en)
- services: service ids from seed_data/vocabulary.json separated by ";"
- address, city, state, zip: the location; zip is required (5 digits or ZIP+4), city and state
  default to the ZIP's
- phone, fax: 10-digit US numbers, any common punctuation
- website: the listing's web address
- location_name, wheelchair_accessible, ivig_products: optional extras (products separated by ";")
- active: optional yes/no; "no" hides the listing from search (set_active), empty leaves it as it is
- practices_at: practitioners only, where they practise (their roles), separated by ";": each is
  the organization's NPI, "@", the location's address, "|" and its ZIP, e.g.
  `1234567893@10 River St|02115;1234567893@5 Main St|02116`; an empty NPI (`@2 Elm St|02115`)
  names one of the practitioner's own locations. Roles are written after every listing of the
  file, so the organization may come later in the file or be stored already. An empty cell removes
  every role; without the column, roles are kept. A new role takes the practitioner's primary
  specialty and the listing's accepting_new_patients and telehealth; a stored role is kept as it is.
  A practitioner row may leave address, city, state, zip, phone, fax, location_name empty when it
  has practices_at: the practitioner then has no location of its own.

Every cell is read through `directory.csvcells.restore`: a cell that `export-csv` neutralised for
spreadsheets (`'=HYPERLINK(...)`) is read back as it was stored (`=HYPERLINK(...)`).

Listing-level columns must agree on all rows of an NPI (else the listing is rejected). A listing is
written only when it differs from what is stored; opening hours, which the template does not carry,
are kept for locations whose address and ZIP are unchanged.

Only `npi, kind, name, specialties, address, zip` must be in the header. For a listing already
stored, a column the file does not have keeps the stored value (location columns: for a location
at the same address and ZIP); a column the file has with an empty cell clears the field or sets the
default given above. A new listing gets those defaults for every column missing or empty.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import asdict, replace
from typing import TextIO

from sqlmodel import Session

from directory.csvcells import restore
from directory.geo import ZipError, normalize_zip
from directory.importers.roles import PendingRoles, apply_roles, parse_practices_at, place_key
from directory.importers.upsert import Candidate, ImportReport, apply_batches
from directory.services.listings import ListingInput, LocationInput

TEMPLATE_HEADER = (
    "npi", "kind", "name", "first_name", "last_name", "credentials", "org_type", "specialties", "networks",
    "accepting_new_patients", "telehealth", "languages", "services", "address", "city", "state", "zip",
    "phone", "fax", "website", "location_name", "wheelchair_accessible", "ivig_products", "active",
    "practices_at",
)
REQUIRED = ("npi", "kind", "name", "specialties", "address", "zip")
LOCATION_CELLS = ("address", "city", "state", "zip", "phone", "fax", "location_name")
TRUE, FALSE = {"yes", "y", "true", "t", "1"}, {"no", "n", "false", "f", "0", ""}


class RowError(ValueError):
    """A template row that cannot be read (before any database check)."""


def split_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(";") if part.strip()]


def parse_bool(row: dict, column: str) -> bool:
    value = (row.get(column) or "").strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise RowError(f"{column}: {value!r} is not yes or no")


def _text(row: dict, column: str) -> str:
    return (row.get(column) or "").strip()


def parse_active(row: dict) -> bool | None:
    return parse_bool(row, "active") if _text(row, "active") else None


def parse_row(row: dict) -> tuple[str, ListingInput]:
    """The listing (with this row's one location, if any) described by a template row."""
    kind = _text(row, "kind").lower()
    roles_only = kind == "practitioner" and bool(_text(row, "practices_at")) and not any(
        _text(row, column) for column in LOCATION_CELLS)
    required = [c for c in REQUIRED if not (roles_only and c in ("address", "zip"))]
    if missing := [c for c in required if not _text(row, c)]:
        raise RowError("; ".join(f"{c}: required" for c in missing))
    try:
        networks = [int(n) for n in split_list(row.get("networks"))]
    except ValueError as error:
        raise RowError("networks: network ids are whole numbers") from error
    specialties = split_list(row.get("specialties"))
    locations = [] if roles_only else [LocationInput(
        address=_text(row, "address"), zip=_text(row, "zip"), city=_text(row, "city"),
        state=_text(row, "state").upper(), name=_text(row, "location_name") or None,
        phone=_text(row, "phone") or None, fax=_text(row, "fax") or None,
        wheelchair_accessible=parse_bool(row, "wheelchair_accessible"),
    )]
    practitioner = kind == "practitioner"
    data = ListingInput(
        kind=kind, npi=_text(row, "npi"), name=_text(row, "name"), specialties=specialties,
        primary_specialty=specialties[0] if specialties else None, locations=locations, networks=networks,
        accepting_new_patients=parse_bool(row, "accepting_new_patients"), telehealth=parse_bool(row, "telehealth"),
        languages=split_list(row.get("languages")) or ["en"], services=split_list(row.get("services")),
        website=_text(row, "website") or None,
        first_name=(_text(row, "first_name") or None) if practitioner else None,
        last_name=(_text(row, "last_name") or None) if practitioner else None,
        credentials=(_text(row, "credentials") or None) if practitioner else None,
        org_type=_text(row, "org_type") or "infusion_center", ivig_products=split_list(row.get("ivig_products")),
        source="import",
    )
    return data.npi, data


def parse_roles(row: dict) -> list | None:
    """The row's roles; None when the file has no practices_at column (stored roles are kept)."""
    if "practices_at" not in row:
        return None
    try:
        refs = parse_practices_at(_text(row, "practices_at"))
    except ValueError as error:
        raise RowError(str(error)) from error
    if refs and _text(row, "kind").lower() != "practitioner":
        raise RowError("practices_at: only practitioners practise at organizations")
    return refs


def _listing_differences(first: ListingInput, other: ListingInput) -> list[str]:
    """Listing-level fields on which two rows of one NPI disagree."""
    return [name for name, value in asdict(first).items()
            if name != "locations" and value != getattr(other, name)]


def read_candidates(stream: TextIO, report: ImportReport) -> tuple[Iterator[Candidate], set[str]]:
    """Group rows by NPI; unreadable rows go straight to the report.

    A listing with one unreadable row is rejected whole, so that no location is silently dropped.
    Rows of one NPI may be anywhere in the file: a first pass notes which record is each NPI's
    last, so that the second yields a listing as soon as its last row is read and holds only the
    listings whose rows are still to come, not the whole file.
    """
    if not stream.seekable():  # a pipe: read it whole, as it cannot be read twice
        stream = io.StringIO(stream.read(), newline="")
    start_at = stream.tell()
    reader = csv.DictReader(stream)
    columns = set(reader.fieldnames or ())
    if missing := [c for c in REQUIRED if c not in columns]:
        report.reject(1, "", f"header: missing column {', '.join(missing)}")
        return iter(()), columns
    last = {_text(row, "npi"): number for number, row in enumerate(reader)}
    stream.seek(start_at)
    return _grouped(csv.DictReader(stream), last, report), columns


def _grouped(reader: csv.DictReader, last: dict[str, int], report: ImportReport) -> Iterator[Candidate]:
    groups: dict[str, Candidate] = {}
    broken: set[str] = set()
    line = 1
    for number, row in enumerate(reader):
        start, line = line + 1, reader.line_num
        row = {column: restore(value) for column, value in row.items()}
        npi = _text(row, "npi")
        try:
            _, data = parse_row(row)
            active = parse_active(row)
            roles = parse_roles(row)
        except RowError as error:
            report.reject(start, npi, str(error))
            broken.add(npi)
        else:
            if npi in groups:
                first = groups[npi]
                differs = _listing_differences(first.data, data) + (["active"] if active != first.active else [])
                differs += ["practices_at"] if roles != first.roles else []
                if differs:
                    report.reject(start, npi, f"{differs[0]}: differs from line {first.lines[0]} for the same NPI")
                    broken.add(npi)
                else:
                    first.data.locations.extend(data.locations)
                    first.lines.append(start)
            else:
                groups[npi] = Candidate(npi=npi, lines=[start], data=data, active=active, roles=roles)
        if number == last[npi]:  # the NPI's last row: its listing is complete
            candidate = groups.pop(npi, None)
            if npi in broken:
                broken.discard(npi)
                if candidate is not None:
                    report.reject(candidate.lines[0], npi, "listing skipped: another of its rows was rejected")
            elif candidate is not None:
                yield candidate


def _location_key(loc: LocationInput) -> tuple[str, str]:
    try:
        zip5 = normalize_zip(loc.zip)
    except ZipError:
        zip5 = loc.zip
    return loc.address.strip().lower(), zip5


# Optional columns and the ListingInput / LocationInput field each one fills.
LISTING_COLUMNS = {
    "first_name": "first_name", "last_name": "last_name", "credentials": "credentials", "org_type": "org_type",
    "networks": "networks", "accepting_new_patients": "accepting_new_patients", "telehealth": "telehealth",
    "languages": "languages", "services": "services", "website": "website", "ivig_products": "ivig_products",
}
LOCATION_COLUMNS = {"city": "city", "state": "state", "phone": "phone", "fax": "fax", "location_name": "name",
                    "wheelchair_accessible": "wheelchair_accessible"}


def template_merge(columns: Iterable[str]):
    """Merge for template rows: a column in the file wins (an empty cell clears the field); a column
    the file does not have keeps the stored value, as does what the template never carries (hours)."""
    present = set(columns)
    kept_listing = {attr: column for column, attr in LISTING_COLUMNS.items() if column not in present}
    kept_location = [attr for column, attr in LOCATION_COLUMNS.items() if column not in present]

    def merge(current: ListingInput, incoming: ListingInput) -> ListingInput:
        kept = {_location_key(loc): loc for loc in current.locations}
        locations = []
        for loc in incoming.locations:
            old = kept.pop(_location_key(loc), None)  # a stored location matches one row at most
            # A location at a stored address is that location (its roles stay); others are new.
            changes = {"hours": dict(old.hours) if old else {}, "id": old.id if old else None}
            if old:
                changes |= {attr: getattr(old, attr) for attr in kept_location}
            locations.append(replace(loc, **changes))
        listing = {attr: getattr(current, attr) for attr in kept_listing}
        return replace(incoming, locations=locations, source=current.source, **listing)

    return merge


def import_template(session: Session, stream: TextIO, *, actor: str, dry_run: bool = False,
                    batch_size: int = 500) -> ImportReport:
    """Upsert the listings in a template CSV by NPI, then their roles; see the module docstring."""
    report = ImportReport()
    candidates, columns = read_candidates(stream, report)
    pending: list[PendingRoles] = []
    places: dict[str, set] = {}

    def noting_roles(items):
        for candidate in items:
            if candidate.roles is not None:
                pending.append(PendingRoles(candidate.npi, candidate.lines[0], candidate.roles))
            if dry_run and "practices_at" in columns:  # what the roles may name before it is written
                places[candidate.npi] = {place_key(loc.address, loc.zip) for loc in candidate.data.locations}
            yield candidate

    apply_batches(session, noting_roles(candidates), report, actor=actor, dry_run=dry_run, batch_size=batch_size,
                  merge=template_merge(columns))
    return apply_roles(session, pending, report, actor=actor, dry_run=dry_run, batch_size=batch_size,
                       file_places=places)
