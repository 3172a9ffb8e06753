"""Roles: a practitioner practising at an organization's location (FHIR PractitionerRole).

Same write-path rules as `directory.listings`: validate, change rows, audit, record the index change for
every listing whose search document depends on the row, all in the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from directory.models import MAX_ID, AuditEntry, Listing, ListingSpecialty, Location, Role
from directory.search.sync import record_change
from directory.services.errors import ValidationError


def add_role(session: Session, *, practitioner_id: int, location_id: int, specialty_code: str | None = None,
             accepting_new_patients: bool = False, telehealth: bool = False, actor: str,
             at_own_location: bool = False) -> Role:
    """Attach a practitioner to an organization's location (or, with `at_own_location`, to one of the
    practitioner's own locations, a role without an organization: older data and imports have them);
    raises ValidationError by field."""
    errors: dict[str, str] = {}
    practitioner = session.get(Listing, practitioner_id)
    if practitioner is None or practitioner.kind != "practitioner":
        errors["practitioner_id"] = "roles can only be added to a practitioner listing"
    location = session.get(Location, location_id) if location_id is not None and 1 <= location_id <= MAX_ID else None
    organization = None
    if location is None:
        errors["location_id"] = f"no location with id {location_id}"
    elif at_own_location:
        if location.listing_id != practitioner_id:
            errors["location_id"] = f"location {location_id} is not one of this practitioner's"
    else:
        organization = session.get(Listing, location.listing_id)
        if organization is None or organization.kind != "organization":
            errors["location_id"] = "this location does not belong to an organization"
    specialty_code = specialty_code or None
    if specialty_code is not None and practitioner is not None:
        held = session.execute(
            select(ListingSpecialty.code).where(ListingSpecialty.listing_id == practitioner_id,
                                                ListingSpecialty.code == specialty_code)
        ).first()
        if held is None:
            errors["specialty_code"] = "the specialty must be one of the practitioner's specialties"
    if not errors:
        # Two adds for one practitioner take turns (a row lock on PostgreSQL; SQLite has one writer
        # at a time), so the second sees the first's role here. The unique constraint (migration
        # 0005) stays as the database's own guarantee.
        session.execute(select(Listing.id).where(Listing.id == practitioner_id).with_for_update())
        duplicate = session.execute(
            select(Role.id).where(Role.practitioner_id == practitioner_id, Role.location_id == location_id)
        ).first()
        if duplicate is not None:
            errors["location_id"] = "this practitioner already has a role at this location"
    if errors:
        raise ValidationError(errors)
    organization_id = organization.id if organization is not None else None
    role = Role(practitioner_id=practitioner_id, organization_id=organization_id, location_id=location.id,
                specialty_code=specialty_code, accepting_new_patients=bool(accepting_new_patients),
                telehealth=bool(telehealth))
    session.add(role)
    session.flush()
    session.add(AuditEntry(actor=actor, listing_id=practitioner_id, action="role.add", changes={
        "role": [None, {"id": role.id, "organization_id": organization_id, "location_id": location.id,
                        "specialty_code": specialty_code, "accepting_new_patients": role.accepting_new_patients,
                        "telehealth": role.telehealth}],
    }))
    record_change(session, practitioner_id)
    if organization_id is not None:
        record_change(session, organization_id)
    session.flush()
    return role


def remove_role(session: Session, role_id: int, *, actor: str) -> None:
    """Detach a practitioner from a location; raises LookupError if there is no such role."""
    role = session.get(Role, role_id)
    if role is None:
        raise LookupError(f"no role {role_id}")
    practitioner_id, organization_id = role.practitioner_id, role.organization_id
    session.add(AuditEntry(actor=actor, listing_id=practitioner_id, action="role.remove", changes={
        "role": [{"id": role.id, "organization_id": organization_id, "location_id": role.location_id,
                  "specialty_code": role.specialty_code}, None],
    }))
    session.delete(role)
    record_change(session, practitioner_id)
    if organization_id is not None:
        record_change(session, organization_id)
    session.flush()
