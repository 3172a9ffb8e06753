"""Practitioners' roles in import files: where each practises, named by organization NPI and location.

A role is named by the organization's NPI and the location's address and ZIP (the template's
`practices_at` column: `1234567893@10 River St|02115`, several separated by ";"); an empty NPI
(`@10 River St|02115`) names one of the practitioner's own locations. JSON lines also carry the
location's id in the file and the role's own fields. Roles are written after every listing of the
file, so that an organization may come after the practitioners who practise there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from directory.geo import ZipError, normalize_zip
from directory.importers.upsert import ImportReport, Outcome, write_batches
from directory.models import Listing, ListingSpecialty, Location, Role
from directory.npi import is_valid_npi
from directory.services.roles import add_role, remove_role


@dataclass(frozen=True)
class RoleRef:
    """One role: at `organization_npi`'s location (None: the practitioner's own) at address + ZIP.

    `fields` (specialty_code, accepting_new_patients, telehealth) is None when the file does not
    give them: a new role then takes the practitioner's primary specialty and the listing's
    accepting / telehealth, and a stored role keeps its own."""

    organization_npi: str | None
    address: str
    zip: str
    location_id: int | None = None
    fields: tuple[str | None, bool, bool] | None = None


@dataclass
class PendingRoles:
    """A listing's roles as read from line `line`, to write once every listing is written."""

    npi: str
    line: int
    refs: list[RoleRef]


def place_key(address: str, zip_code: str) -> tuple[str, str]:
    try:
        zip5 = normalize_zip(zip_code)
    except ZipError:
        zip5 = zip_code.strip()
    return " ".join(address.split()).lower(), zip5


def format_practices_at(refs: Iterable[RoleRef]) -> str:
    return ";".join(f"{ref.organization_npi or ''}@{ref.address}|{ref.zip}" for ref in refs)


def parse_practices_at(text: str) -> list[RoleRef]:
    """The roles a `practices_at` cell names; raises ValueError naming the entry it cannot read."""
    refs = []
    for entry in (part.strip() for part in (text or "").split(";")):
        if not entry:
            continue
        npi, at, place = entry.partition("@")
        address, bar, zip_code = place.rpartition("|")
        npi = npi.strip()
        if not at or not bar or not address.strip() or not zip_code.strip() or (npi and not is_valid_npi(npi)):
            raise ValueError(f"practices_at: {entry!r} is not ORGANIZATION_NPI@address|zip")
        refs.append(RoleRef(organization_npi=npi or None, address=address.strip(), zip=zip_code.strip()))
    return refs


def stored_refs(session: Session, practitioner_id: int) -> list[RoleRef]:
    """A practitioner's roles, by role id, as `RoleRef`s with their fields and location ids."""
    rows = session.execute(
        select(Role, Location, Listing.npi)
        .join(Location, Location.id == Role.location_id)
        .outerjoin(Listing, Listing.id == Role.organization_id)
        .where(Role.practitioner_id == practitioner_id).order_by(Role.id)
    ).all()
    return [RoleRef(organization_npi=npi, address=location.address, zip=location.zip, location_id=location.id,
                    fields=(role.specialty_code, role.accepting_new_patients, role.telehealth))
            for role, location, npi in rows]


def _resolve(session: Session, practitioner: Listing, ref: RoleRef, location_ids: dict[int, int]) -> int | str:
    """The stored location a ref names, or the reason it names none."""
    if ref.organization_npi:
        owner = session.execute(select(Listing).where(Listing.npi == ref.organization_npi)).scalar_one_or_none()
        if owner is None or owner.kind != "organization":
            return f"practices_at: no organization with NPI {ref.organization_npi}"
    else:
        owner = practitioner
    if ref.location_id is not None:
        location = session.get(Location, location_ids.get(ref.location_id, ref.location_id))
        if location is not None and location.listing_id == owner.id:
            return location.id
    wanted = place_key(ref.address, ref.zip)
    for location in session.execute(select(Location).where(Location.listing_id == owner.id)
                                    .order_by(Location.id)).scalars():
        if place_key(location.address, location.zip) == wanted:
            return location.id
    return f"practices_at: {owner.npi} has no location at {ref.address}, {ref.zip}"


def sync_roles(session: Session, practitioner: Listing, refs: list[RoleRef], actor: str,
               location_ids: dict[int, int] | None = None) -> str | bool:
    """Give the practitioner exactly these roles (removing others); the reason as a string when a
    ref names no location (then nothing is written), else whether anything changed."""
    location_ids = location_ids or {}
    if practitioner.kind != "practitioner":
        return "practices_at: only practitioners practise at organizations" if refs else False
    wanted: dict[int, RoleRef] = {}
    for ref in refs:
        found = _resolve(session, practitioner, ref, location_ids)
        if isinstance(found, str):
            return found
        if found in wanted:
            return f"practices_at: {ref.address}, {ref.zip} is named twice"
        wanted[found] = ref
    stored = {role.location_id: role for role in session.execute(
        select(Role).where(Role.practitioner_id == practitioner.id).order_by(Role.id)).scalars()}
    primary = session.execute(select(ListingSpecialty.code).where(
        ListingSpecialty.listing_id == practitioner.id, ListingSpecialty.is_primary)).scalar()
    removed = set()
    for location_id, role in stored.items():
        ref = wanted.get(location_id)
        if ref is None or (ref.fields is not None and ref.fields != (
                role.specialty_code, role.accepting_new_patients, role.telehealth)):
            remove_role(session, role.id, actor=actor)
            removed.add(location_id)
    changed = bool(removed)
    for location_id, ref in wanted.items():
        if location_id in stored and location_id not in removed:
            continue
        specialty, accepting, telehealth = ref.fields or (primary, practitioner.accepting_new_patients,
                                                          practitioner.telehealth)
        add_role(session, practitioner_id=practitioner.id, location_id=location_id, specialty_code=specialty,
                 accepting_new_patients=accepting, telehealth=telehealth, actor=actor,
                 at_own_location=ref.organization_npi is None)
        changed = True
    return changed


def _check_dry(session: Session, pending: PendingRoles, file_places: dict[str, set]) -> str | None:
    """In a dry run nothing of the file is written: check refs against the database and the file."""
    for ref in pending.refs:
        npi = ref.organization_npi or pending.npi
        key = place_key(ref.address, ref.zip)
        if key in file_places.get(npi, ()):
            continue
        owner = session.execute(select(Listing.id).where(Listing.npi == npi)).scalar()
        places = {place_key(a, z) for a, z in session.execute(
            select(Location.address, Location.zip).where(Location.listing_id == owner))} if owner else set()
        if key not in places:
            return f"practices_at: {npi} has no location at {ref.address}, {ref.zip}"
    return None


def apply_roles(session: Session, pending: list[PendingRoles], report: ImportReport, *, actor: str,
                dry_run: bool, batch_size: int, location_ids: dict[int, int] | None = None,
                file_places: dict[str, set] | None = None) -> ImportReport:
    """Write the roles of every listing read (after all its listings), in batches; a listing whose
    roles cannot all be written keeps its stored ones and is rejected at its line. A changed role
    set counts as the field `practices_at` of a listing that was stored before."""
    rejected = {key for _, key, _ in report.rejections}

    def write(db: Session, item: PendingRoles, outcome: Outcome) -> None:
        if item.npi in rejected:
            return
        practitioner = db.execute(select(Listing).where(Listing.npi == item.npi)).scalar_one_or_none()
        result: str | bool = "practices_at: the listing is not in the database"
        if practitioner is not None:
            # Every ref is resolved before anything is written, so a returned reason leaves nothing
            # half done; a write the service refuses raises, and `write_batches` rejects this line alone.
            result = sync_roles(db, practitioner, item.refs, actor, location_ids)
        if isinstance(result, str) and dry_run:  # what the file itself would add, before it is written
            result = _check_dry(db, item, file_places or {}) or practitioner is not None
        if isinstance(result, str):
            outcome.reject(item.line, item.npi, result)
            return
        state = report.listed_as.get(item.npi)
        if result and state != "created":
            outcome.fields["practices_at"] += 1
            if state == "unchanged":
                outcome.counts["unchanged"] -= 1
                outcome.counts["updated"] += 1

    write_batches(session, pending, report, write=write, dry_run=dry_run, batch_size=batch_size,
                  where=lambda item: (item.line, item.npi))
    report.listed_as.clear()
    return report
