"""Upsert listings by NPI in all-or-nothing batches, skipping listings that would not change.

Each importer turns its rows into `Candidate`s; `apply_batches` writes them through
`create_listing` / `update_listing` / `set_active`, so every write is audited and queued for the
search index in the same transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from itertools import islice

from sqlalchemy import select
from sqlmodel import Session

from directory.geo import ZipError, lookup_zip
from directory.models import Listing, ListingSpecialty, Location, Organization, Participation, Practitioner
from directory.services.listings import ListingInput, LocationInput, format_phone, set_active, validate
from directory.services.restore import save_listing

Merge = Callable[[ListingInput, ListingInput], ListingInput]


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do); rejections are (line, key, reason).

    `fields` counts, per field, the existing listings whose value changed (would change, in a dry
    run): {"networks": 12} reads "networks: 12 listings".
    """

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    skipped: int = 0
    rejections: list[tuple[int, str, str]] = field(default_factory=list)
    dry_run: bool = False
    fields: Counter = field(default_factory=Counter)
    listed_as: dict[str, str] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    def reject(self, line: int, key: str, reason: str) -> None:
        self.rejections.append((line, key, reason))

    def summary(self) -> str:
        prefix = "dry run, nothing written: would have " if self.dry_run else ""
        return (f"{prefix}created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
                f"deactivated {self.deactivated}, skipped {self.skipped}, rejected {self.rejected}")

    def field_lines(self) -> list[str]:
        """'networks: 12 listings' per changed field, most changed first."""
        return [f"{name}: {count} listing{'' if count == 1 else 's'}"
                for name, count in sorted(self.fields.items(), key=lambda kv: (-kv[1], kv[0]))]

    def field_summary(self) -> str:
        return "; ".join(self.field_lines())

    def add(self, outcome: Outcome) -> None:
        """Fold in what one batch (or one listing) did once it is committed (or rolled back, dry)."""
        for key in COUNTS:
            setattr(self, key, getattr(self, key) + outcome.counts[key])
        self.rejections.extend(outcome.rejections)
        self.fields.update(outcome.fields)
        self.listed_as |= outcome.listed_as


COUNTS = ("created", "updated", "unchanged", "deactivated", "skipped")


@dataclass
class Outcome:
    """What a batch did, kept apart until it is committed: a batch that fails adds nothing."""

    counts: Counter = field(default_factory=Counter)
    rejections: list[tuple[int, str, str]] = field(default_factory=list)
    fields: Counter = field(default_factory=Counter)
    listed_as: dict[str, str] = field(default_factory=dict)  # listings with roles to write: created/updated/unchanged

    def reject(self, line: int, key: str, reason: str) -> None:
        self.rejections.append((line, key, reason))


@dataclass
class Candidate:
    """One listing read from a file: its data (None when it is only to be deactivated)."""

    npi: str
    lines: list[int]
    data: ListingInput | None = None
    deactivate: bool = False
    active: bool | None = None  # set: the listing is shown (True) or hidden (False) after the write
    roles: list | None = None  # `importers.roles.RoleRef`s, written after every listing; None keeps the stored


def batched(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def snapshot(session: Session, listing: Listing) -> ListingInput:
    """The stored listing as the input that would recreate it (primary specialty first)."""
    lid = listing.id
    specialties = session.execute(select(ListingSpecialty).where(ListingSpecialty.listing_id == lid)).scalars().all()
    primary = next((s.code for s in specialties if s.is_primary), None)
    codes = ([primary] if primary else []) + sorted(s.code for s in specialties if s.code != primary)
    networks = session.execute(
        select(Participation.network_id).where(Participation.listing_id == lid)
    ).scalars().all()
    locations = session.execute(
        select(Location).where(Location.listing_id == lid).order_by(Location.id)
    ).scalars().all()
    data = ListingInput(
        kind=listing.kind, npi=listing.npi, name=listing.name, specialties=codes, primary_specialty=primary,
        locations=[
            LocationInput(address=loc.address, zip=loc.zip, city=loc.city, state=loc.state, name=loc.name,
                          phone=loc.phone, fax=loc.fax, hours=dict(loc.hours or {}),
                          wheelchair_accessible=loc.wheelchair_accessible, id=loc.id)
            for loc in locations
        ],
        networks=sorted(networks), accepting_new_patients=listing.accepting_new_patients,
        telehealth=listing.telehealth, languages=list(listing.languages), services=list(listing.services),
        website=listing.website, source=listing.source,
    )
    if listing.kind == "organization":
        org = session.get(Organization, lid)
        if org is not None:
            data.org_type, data.ivig_products = org.org_type, list(org.ivig_products)
    else:
        prac = session.get(Practitioner, lid)
        if prac is not None:
            data.first_name, data.last_name, data.credentials = prac.first_name, prac.last_name, prac.credentials
    return data


LOCATION_FIELDS = ("address", "city", "state", "zip", "location_name", "phone", "fax", "hours",
                   "wheelchair_accessible")


def comparable(data: ListingInput) -> dict:
    """The values `create_listing` would store for `data`, by field (named as the template's columns;
    location fields hold one value per location), for deciding whether and what an update changes."""
    locations = []
    for loc in data.locations:
        try:
            place = lookup_zip(loc.zip)
            city, state, zip5 = loc.city.strip() or place.city, (loc.state.strip() or place.state).upper(), place.zip
        except ZipError:
            city, state, zip5 = loc.city, loc.state, loc.zip
        try:
            phone, fax = format_phone(loc.phone), format_phone(loc.fax)
        except ValueError:
            phone, fax = loc.phone, loc.fax
        locations.append((loc.address.strip(), city, state, zip5, loc.name, phone, fax,
                          sorted(loc.hours.items()), loc.wheelchair_accessible))
    values = {
        "kind": data.kind, "npi": data.npi, "name": data.name.strip(),
        "accepting_new_patients": data.accepting_new_patients, "telehealth": data.telehealth,
        "languages": list(dict.fromkeys(data.languages)), "services": list(dict.fromkeys(data.services)),
        "website": data.website or None,
        "specialties": (data.primary_specialty or (data.specialties[0] if data.specialties else None),
                        sorted(set(data.specialties))),
        "networks": sorted(set(data.networks)), "locations": len(locations),
    }
    for i, name in enumerate(LOCATION_FIELDS):
        values[name] = [loc[i] for loc in locations]
    if data.kind == "organization":
        values.update(org_type=data.org_type, ivig_products=list(data.ivig_products))
    else:
        values.update(first_name=data.first_name, last_name=data.last_name, credentials=data.credentials or None)
    return values


def changed_fields(current: ListingInput, wanted: ListingInput) -> list[str]:
    """The fields (template column names, plus `locations` for their number) that differ."""
    before, after = comparable(current), comparable(wanted)
    return [name for name, value in after.items() if before.get(name) != value]


def _error_line(candidate: Candidate, errors: dict[str, str]) -> int:
    for key in errors:
        parts = key.split(".")
        if parts[0] == "locations" and len(parts) > 1 and int(parts[1]) < len(candidate.lines):
            return candidate.lines[int(parts[1])]
    return candidate.lines[0]


def _apply_one(session: Session, candidate: Candidate, actor: str, merge: Merge, outcome: Outcome) -> bool:
    """Write one candidate; False (and a rejection) when its data cannot be accepted."""
    counts = outcome.counts
    listing = session.execute(select(Listing).where(Listing.npi == candidate.npi)).scalar_one_or_none()
    if candidate.deactivate:
        if listing is not None and listing.active:
            set_active(session, listing.id, False, actor)
            counts["deactivated"] += 1
            outcome.fields["active"] += 1
        else:
            counts["skipped" if listing is None else "unchanged"] += 1
        return True
    if listing is None:
        wanted = candidate.data
    else:
        current = snapshot(session, listing)
        if candidate.data.kind != current.kind:
            outcome.reject(candidate.lines[0], candidate.npi, f"kind: this NPI is already listed as {current.kind}")
            return False
        wanted = merge(current, candidate.data)
    if errors := validate(session, wanted):
        reason = "; ".join(f"{k}: {v}" for k, v in errors.items())
        outcome.reject(_error_line(candidate, errors), candidate.npi, reason)
        return False
    if listing is None:
        listing = save_listing(session, None, wanted, actor)
        counts["created"] += 1
        if candidate.roles is not None:
            outcome.listed_as[candidate.npi] = "created"
        if candidate.active is False:
            set_active(session, listing.id, False, actor)
        return True
    changes = changed_fields(current, wanted)
    if changes:
        save_listing(session, listing.id, wanted, actor)
    if candidate.active is not None and candidate.active != listing.active:
        set_active(session, listing.id, candidate.active, actor)
        changes.append("active")
    outcome.fields.update(changes)
    counts["updated" if changes else "unchanged"] += 1
    if candidate.roles is not None:
        outcome.listed_as[candidate.npi] = "updated" if changes else "unchanged"
    return True


def keep_incoming(current: ListingInput, incoming: ListingInput) -> ListingInput:
    """Default merge: the file is authoritative, except `source`, which stays as first recorded."""
    return replace(incoming, source=current.source)


Write = Callable[[Session, object, Outcome], object]


def _attempt(session: Session, items: list, write: Write, dry_run: bool) -> Outcome:
    """Write items in one transaction and commit it (roll it back, in a dry run); raises on a
    failed write, after rolling back."""
    outcome = Outcome()
    try:
        for item in items:
            write(session, item, outcome)
        session.flush()
    except Exception:
        session.rollback()
        raise
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return outcome


def write_batches(session: Session, items: Iterable, report: ImportReport, *, write: Write, dry_run: bool,
                  batch_size: int, where: Callable[[object], tuple[int, str]]) -> ImportReport:
    """Write items `batch_size` at a time, each batch in one transaction.

    A batch whose write fails (the database refuses a row the service accepted) is rolled back
    whole and its items written again one at a time, each in its own transaction: the good ones
    are written and only the failing one is rejected, at the (line, key) `where` gives, with the
    database's reason. So every item ends reported, and no listing is ever half written.
    """
    report.dry_run = dry_run
    for batch in batched(items, batch_size):
        try:
            report.add(_attempt(session, batch, write, dry_run))
            continue
        except Exception:  # retried one by one below, where the failing row is named
            pass
        for item in batch:
            try:
                report.add(_attempt(session, [item], write, dry_run))
            except Exception as error:  # the database's reason goes into the report
                line, key = where(item)
                reason = " ".join(str(getattr(error, "orig", None) or error).split())
                report.reject(line, key, f"not written: {reason}")
    return report


def apply_batches(session: Session, candidates: Iterable[Candidate], report: ImportReport, *, actor: str,
                  dry_run: bool, batch_size: int, merge: Merge = keep_incoming) -> ImportReport:
    """Upsert candidates by NPI through the service, in batches (see `write_batches`)."""
    return write_batches(session, candidates, report, dry_run=dry_run, batch_size=batch_size,
                         write=lambda db, candidate, outcome: _apply_one(db, candidate, actor, merge, outcome),
                         where=lambda candidate: (candidate.lines[0], candidate.npi))
