"""CMS NPPES `npidata_pfile` rows -> listings: streamed, kept only for our taxonomy codes.

Rows with none of seed_data/taxonomy.csv's codes, or a practice location outside the US, are
counted as skipped.

Columns are found by header name, so the 2018 layout (329 columns, "Provider Gender Code") and the
current one (330 columns, "Provider Sex Code", "Certification Date") both read. The file is read
row by row with `csv.reader` (a full file is about 9 GB) and written in batches.

On an NPI already listed, NPPES owns the name, credentials, specialties and the first location's
address and phones; everything staff maintain (networks, services, hours, org type...) is kept.
A deactivated NPI (deactivation date, no later reactivation) deactivates its listing; a listing
deactivated for any reason is not restored by NPPES.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from typing import TextIO

from sqlmodel import Session

from directory import reference
from directory.importers.upsert import Candidate, ImportReport, apply_batches
from directory.services.listings import ListingInput, LocationInput

NPI = "NPI"
ENTITY = "Entity Type Code"
ORG_NAME = "Provider Organization Name (Legal Business Name)"
LAST, FIRST, CREDENTIAL = "Provider Last Name (Legal Name)", "Provider First Name", "Provider Credential Text"
PRACTICE = "Provider {} Business Practice Location Address"
ADDRESS1, ADDRESS2 = PRACTICE.format("First Line"), PRACTICE.format("Second Line")
CITY = "Provider Business Practice Location Address City Name"
STATE = "Provider Business Practice Location Address State Name"
POSTAL = "Provider Business Practice Location Address Postal Code"
PHONE = "Provider Business Practice Location Address Telephone Number"
FAX = "Provider Business Practice Location Address Fax Number"
COUNTRY = "Provider Business Practice Location Address Country Code (If outside U.S.)"
DEACTIVATED, REACTIVATED = "NPI Deactivation Date", "NPI Reactivation Date"
TAXONOMY, SWITCH = "Healthcare Provider Taxonomy Code_{}", "Healthcare Provider Primary Taxonomy Switch_{}"
SLOTS = range(1, 16)
US_COUNTRY_CODES = {"", "US", "PR", "GU", "VI", "AS", "MP", "UM"}
REQUIRED = (NPI, ENTITY, ORG_NAME, LAST, FIRST, ADDRESS1, CITY, STATE, POSTAL, DEACTIVATED, TAXONOMY.format(1))
ORG_TYPES = {"261QI0500X": "infusion_center", "3336H0001X": "home_infusion", "251F00000X": "home_infusion",
             "3336S0011X": "specialty_pharmacy"}
KEEP_UPPER = {"LLC", "INC", "PC", "PA", "PLLC", "LLP", "LLC.", "INC.", "MD", "DO", "NP", "PO", "NE", "NW", "SE",
              "SW", "CVS", "II", "III", "IV", "USA"}
_WORD_START = re.compile(r"\b[a-z]")


class HeaderError(ValueError):
    """The file does not have the NPPES columns we need."""


def display_case(text: str) -> str:
    """'1000 ASYLUM AVE STE 4309' -> '1000 Asylum Ave Ste 4309'; mixed-case text is left alone."""
    text = " ".join(text.split())
    if text != text.upper():
        return text
    words = [w if w in KEEP_UPPER else _WORD_START.sub(lambda m: m.group(0).upper(), w.lower())
             for w in text.split(" ")]
    return " ".join(words)


def nppes_phone(raw: str) -> str | None:
    """10 digits (a leading country code 1 dropped) or None: NPPES numbers are not all usable."""
    digits = re.sub(r"\D", "", raw or "")
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    return digits if len(digits) == 10 else None


def _date(text: str) -> date | None:
    text = (text or "").strip()
    for fmt in ("%m/%d/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def is_deactivated(deactivated: str, reactivated: str) -> bool:
    """A deactivation date and no reactivation on or after it."""
    off, on = _date(deactivated), _date(reactivated)
    if not (deactivated or "").strip():
        return False
    return not (reactivated or "").strip() or (off is not None and on is not None and on < off)


def org_type_for(codes: list[str]) -> str:
    """The organization type implied by its taxonomy codes (primary first); 'practice' otherwise."""
    for code in codes:
        if code in ORG_TYPES:
            return ORG_TYPES[code]
        if code.startswith("282N"):
            return "hospital_infusion"
    return "practice"


def row_listing(get, codes: list[str], primary: str) -> ListingInput:
    """The listing an NPPES row describes, given a column getter and its kept taxonomy codes."""
    address = ", ".join(display_case(part) for part in (get(ADDRESS1), get(ADDRESS2)) if part.strip())
    postal = re.sub(r"\D", "", get(POSTAL))
    location = LocationInput(address=address, zip=postal[:5] if len(postal) in (5, 9) else get(POSTAL),
                             city=display_case(get(CITY)), state=get(STATE).strip().upper(),
                             phone=nppes_phone(get(PHONE)), fax=nppes_phone(get(FAX)))
    ordered = [primary] + [c for c in codes if c != primary]
    if get(ENTITY).strip() == "1":
        first, last, credential = display_case(get(FIRST)), display_case(get(LAST)), get(CREDENTIAL).strip()
        name = f"{first} {last}" + (f", {credential}" if credential else "")
        return ListingInput(kind="practitioner", npi=get(NPI).strip(), name=name, specialties=ordered,
                            primary_specialty=primary, locations=[location], first_name=first, last_name=last,
                            credentials=credential or None, source="nppes")
    return ListingInput(kind="organization", npi=get(NPI).strip(), name=display_case(get(ORG_NAME)),
                        specialties=ordered, primary_specialty=primary, locations=[location],
                        org_type=org_type_for(ordered), source="nppes")


def read_candidates(stream: TextIO, report: ImportReport) -> Iterator[Candidate]:
    """Yield a candidate per relevant row, streaming; irrelevant rows are counted as skipped."""
    reader = csv.reader(stream)
    header = next(reader, None) or []
    position = {name.strip(): i for i, name in enumerate(header)}
    if missing := [c for c in REQUIRED if c not in position]:
        raise HeaderError(f"not an NPPES data file: no column {missing[0]!r}")
    slots = [(position[TAXONOMY.format(n)], position.get(SWITCH.format(n))) for n in SLOTS
             if TAXONOMY.format(n) in position]
    taxonomy = reference.taxonomy()
    width = len(header)
    line = 1
    for row in reader:
        start, line = line + 1, reader.line_num
        if len(row) < width:
            row = row + [""] * (width - len(row))

        def get(column: str, row=row) -> str:
            index = position.get(column)
            return row[index] if index is not None else ""

        npi = get(NPI).strip()
        if is_deactivated(get(DEACTIVATED), get(REACTIVATED)):
            yield Candidate(npi=npi, lines=[start], deactivate=True)
            continue
        codes, primary = [], None
        for code_at, switch_at in slots:
            code = row[code_at].strip()
            if code in taxonomy and code not in codes:
                codes.append(code)
                if switch_at is not None and row[switch_at].strip().upper() == "Y":
                    primary = code
        # Outside the US and its territories there is no ZIP to place the listing by.
        if not codes or get(COUNTRY).strip().upper() not in US_COUNTRY_CODES:
            report.skipped += 1
            continue
        yield Candidate(npi=npi, lines=[start], data=row_listing(get, codes, primary or codes[0]))


def nppes_merge(current: ListingInput, incoming: ListingInput) -> ListingInput:
    """NPPES owns names, credentials, specialties and the first location's address and phones."""
    first = incoming.locations[0]
    if current.locations:
        old = current.locations[0]
        # Keep the stored phone when NPPES has none usable, rather than erase a staff-entered one.
        first = replace(old, address=first.address, city=first.city, state=first.state, zip=first.zip,
                        phone=first.phone or old.phone, fax=first.fax or old.fax)
    return replace(current, name=incoming.name, first_name=incoming.first_name, last_name=incoming.last_name,
                   credentials=incoming.credentials, specialties=incoming.specialties,
                   primary_specialty=incoming.primary_specialty, locations=[first, *current.locations[1:]])


def import_nppes(session: Session, stream: TextIO, *, actor: str, dry_run: bool = False,
                 batch_size: int = 500) -> ImportReport:
    """Upsert the listings of an NPPES data file (text stream, header first) by NPI."""
    report = ImportReport()
    return apply_batches(session, read_candidates(stream, report), report, actor=actor, dry_run=dry_run,
                         batch_size=batch_size, merge=nppes_merge)
