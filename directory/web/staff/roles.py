"""Staff pages for a practitioner's roles: where they practise (FHIR PractitionerRole), under
/staff/listings/<id>/roles."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlmodel import Session

from directory import reference
from directory.db import request_session
from directory.models import (
    Listing,
    ListingSpecialty,
    Location,
    Role,
)
from directory.services import roles as role_service
from directory.services.errors import ValidationError
from directory.web.params import whole_number
from directory.web.staff.auth import EDITORS, role_required, staff_work

bp = Blueprint("staff_roles", __name__, url_prefix="/staff/listings")

ROLE_CHOICES_MAX = 200


def _role_page(db: Session, listing: Listing, form: dict | None = None, errors: dict | None = None,
               status: int = 200):

    org = Listing.__table__.alias("org")
    roles = db.execute(
        select(Role, Location, org.c.name)
        .join(Location, Location.id == Role.location_id)
        .outerjoin(org, org.c.id == Role.organization_id)
        .where(Role.practitioner_id == listing.id)
        .order_by(org.c.name, Role.id)
    ).all()
    states = sorted(set(db.execute(select(Location.state).where(Location.listing_id == listing.id)).scalars()))
    choices = db.execute(
        select(Location, Listing.name)
        .join(Listing, Listing.id == Location.listing_id)
        .where(Listing.kind == "organization", Location.state.in_(states))
        .order_by(Listing.name, Location.city, Location.id)
        .limit(ROLE_CHOICES_MAX)
    ).all()
    specialties = db.execute(select(ListingSpecialty.code).where(ListingSpecialty.listing_id == listing.id)
                             .order_by(ListingSpecialty.is_primary.desc(), ListingSpecialty.code)).scalars().all()
    form = form or {"location_choice": "", "location_id": "", "specialty_code": "",
                    "accepting_new_patients": False, "telehealth": False}
    body = render_template("staff/listings/roles.html", listing=listing, roles=roles, choices=choices,
                           states=states, specialties=specialties, taxonomy=reference.taxonomy(),
                           form=form, errors=errors or {}, choices_max=ROLE_CHOICES_MAX)
    return body, status


def _practitioner_or_404(db: Session, listing_id: int) -> Listing:
    listing = db.get(Listing, listing_id)
    if listing is None or listing.kind != "practitioner":
        abort(404)
    return listing


@bp.get("/<int:listing_id>/roles")
@role_required(*EDITORS)
def roles(listing_id: int):
    db = request_session()
    return _role_page(db, _practitioner_or_404(db, listing_id))


@bp.post("/<int:listing_id>/roles")
@role_required(*EDITORS)
def add_role(listing_id: int):

    values = request.form
    form = {name: values.get(name, "").strip() for name in ("location_choice", "location_id", "specialty_code")}
    for name in ("accepting_new_patients", "telehealth"):
        form[name] = values.get(name) == "1"
    raw = form["location_id"] or form["location_choice"]
    db = request_session()
    name = _practitioner_or_404(db, listing_id).name
    try:
        with staff_work() as work:
            if not raw:
                raise ValidationError({"location_id": "choose an organization location or enter its id"})
            if (location_id := whole_number(raw)) is None:
                raise ValidationError({"location_id": "a location id is a whole number"})
            role_service.add_role(work.session, practitioner_id=listing_id, location_id=location_id,
                                  specialty_code=form["specialty_code"] or None,
                                  accepting_new_patients=form["accepting_new_patients"],
                                  telehealth=form["telehealth"], actor=work.actor)
    except ValidationError as error:
        return _role_page(db, _practitioner_or_404(db, listing_id), form, error.errors, status=400)
    flash(f"Added a role for {name}; public search shows it.", "success")
    return redirect(url_for("staff_roles.roles", listing_id=listing_id), code=303)


@bp.post("/<int:listing_id>/roles/<int:role_id>/remove")
@role_required(*EDITORS)
def remove_role(listing_id: int, role_id: int):
    db = request_session()
    name = _practitioner_or_404(db, listing_id).name
    role = db.get(Role, role_id)
    if role is None or role.practitioner_id != listing_id:
        abort(404)
    with staff_work() as work:
        role_service.remove_role(work.session, role_id, actor=work.actor)
    flash(f"Removed a role from {name}; public search shows the change.", "success")
    return redirect(url_for("staff_roles.roles", listing_id=listing_id), code=303)
