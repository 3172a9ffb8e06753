"""Staff pages for editing listings: create, edit (optimistic locking), deactivate and restore."""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select
from sqlmodel import Session

from directory import reference
from directory.db import request_session
from directory.models import (
    KINDS,
    Listing,
    ListingSpecialty,
    Location,
    Organization,
    Participation,
    Practitioner,
)
from directory.services.errors import StaleVersion, ValidationError
from directory.services.listings import ListingInput, LocationInput, create_listing, set_active, update_listing
from directory.web.choices import form_choices
from directory.web.params import page_number, whole_number
from directory.web.providers import ORG_TYPES
from directory.web.staff.auth import EDITORS, role_required, staff_work

bp = Blueprint("staff_listings", __name__, url_prefix="/staff/listings")

PER_PAGE = 50
LOCATION_FIELDS = ("address", "zip", "city", "state", "phone", "fax")
STALE_MESSAGE = ("Someone else saved this listing since you opened it; reload to see their change. "
                 "Nothing was saved.")
_LOCATION_KEY = re.compile(r"^locations\.(\d+)\.(\w+)$")


# --- the list ------------------------------------------------------------------------------------

@bp.get("/")
@role_required(*EDITORS)
def index():
    """Every listing, active or not, filtered by name (contains) or NPI (exact)."""
    q = request.args.get("q", "").strip()
    page = page_number(request.args.get("page"))
    query = select(Listing)
    if q:
        escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(or_(func.lower(Listing.name).like(f"%{escaped}%", escape="\\"), Listing.npi == q))
    db = request_session()
    total = db.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = db.execute(query.order_by(Listing.name, Listing.id)
                      .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).scalars().all()
    pages = max(1, -(-total // PER_PAGE))
    return render_template("staff/listings/index.html", listings=rows, q=q, page=page, pages=pages,
                           total=total)


# --- the form ------------------------------------------------------------------------------------

def _empty_location() -> dict:
    return {"id": "", **{name: "" for name in LOCATION_FIELDS}}


def _blank_form(kind: str) -> dict:
    return {"kind": kind, "name": "", "npi": "", "first_name": "", "last_name": "", "credentials": "",
            "org_type": "infusion_center", "ivig_products": "", "specialties": [], "primary_specialty": "",
            "networks": [], "accepting_new_patients": False, "telehealth": False, "languages": ["en"],
            "services": [], "website": "", "version": "", "locations": [_empty_location()]}


def _form_from_listing(db: Session, listing: Listing) -> dict:
    form = _blank_form(listing.kind)
    specialties = db.execute(select(ListingSpecialty).where(ListingSpecialty.listing_id == listing.id)
                             .order_by(ListingSpecialty.is_primary.desc(), ListingSpecialty.code)).scalars().all()
    form.update(
        name=listing.name, npi=listing.npi, website=listing.website or "", version=str(listing.version),
        accepting_new_patients=listing.accepting_new_patients, telehealth=listing.telehealth,
        languages=list(listing.languages), services=list(listing.services),
        specialties=[s.code for s in specialties],
        primary_specialty=next((s.code for s in specialties if s.is_primary), ""),
        networks=[str(n) for n in db.execute(select(Participation.network_id)
                                             .where(Participation.listing_id == listing.id)).scalars()],
    )
    if listing.kind == "organization":
        org = db.get(Organization, listing.id)
        if org is not None:
            form.update(org_type=org.org_type, ivig_products=", ".join(org.ivig_products))
    else:
        prac = db.get(Practitioner, listing.id)
        if prac is not None:
            form.update(first_name=prac.first_name, last_name=prac.last_name, credentials=prac.credentials or "")
    locations = db.execute(select(Location).where(Location.listing_id == listing.id)
                           .order_by(Location.id)).scalars().all()
    form["locations"] = [{"id": str(loc.id), **{name: getattr(loc, name) or "" for name in LOCATION_FIELDS}}
                         for loc in locations] + [_empty_location()]
    return form


def _form_from_request(kind: str) -> dict:
    values = request.form
    form = _blank_form(kind)
    for name in ("name", "npi", "first_name", "last_name", "credentials", "org_type", "ivig_products",
                 "primary_specialty", "website", "version"):
        form[name] = values.get(name, "").strip()
    for name in ("specialties", "networks", "languages", "services"):
        form[name] = [v for v in values.getlist(name) if v]
    for name in ("accepting_new_patients", "telehealth"):
        form[name] = values.get(name) == "1"
    rows: dict[int, dict] = {}
    for key in values:
        if match := _LOCATION_KEY.match(key):
            index, name = int(match.group(1)), match.group(2)
            if name in (*LOCATION_FIELDS, "id") and index < 100:
                rows.setdefault(index, _empty_location())[name] = values.get(key, "").strip()
    form["locations"] = [rows[i] for i in sorted(rows)] or [_empty_location()]
    return form


def _listing_input(db: Session, form: dict, listing_id: int | None) -> tuple[ListingInput, list[int], dict]:
    """The service-layer input for `form`, the form row of each location kept, and form-only errors."""
    errors: dict[str, str] = {}
    networks: list[int] = []
    for raw in form["networks"]:
        if (network_id := whole_number(raw)) is not None:
            networks.append(network_id)
        else:
            errors["networks"] = f"unknown network id {raw}"
    existing: dict[int, Location] = {}
    if listing_id is not None:
        existing = {loc.id: loc for loc in db.execute(select(Location).where(Location.listing_id == listing_id))
                    .scalars()}
    locations, kept = [], []
    for row_index, row in enumerate(form["locations"]):
        if not any(row[name] for name in LOCATION_FIELDS):
            continue  # an untouched row
        old = existing.get(whole_number(row["id"]))
        locations.append(LocationInput(
            address=row["address"], zip=row["zip"], city=row["city"], state=row["state"],
            phone=row["phone"] or None, fax=row["fax"] or None,
            # Fields this form does not show are kept as they were.
            name=old.name if old else None, hours=dict(old.hours) if old else {},
            wheelchair_accessible=old.wheelchair_accessible if old else False,
            id=old.id if old else None,
        ))
        kept.append(row_index)
    organization = form["kind"] == "organization"
    data = ListingInput(
        kind=form["kind"], npi=form["npi"], name=form["name"], specialties=list(form["specialties"]),
        locations=locations, primary_specialty=form["primary_specialty"] or None, networks=networks,
        accepting_new_patients=form["accepting_new_patients"], telehealth=form["telehealth"],
        languages=list(form["languages"]), services=list(form["services"]), website=form["website"] or None,
        first_name=None if organization else form["first_name"] or None,
        last_name=None if organization else form["last_name"] or None,
        credentials=None if organization else form["credentials"] or None,
        org_type=form["org_type"] if organization else "infusion_center",
        ivig_products=[p.strip() for p in form["ivig_products"].split(",") if p.strip()] if organization else [],
    )
    return data, kept, errors


def _form_errors(errors: dict[str, str], kept: list[int]) -> dict[str, str]:
    """Service errors keyed by form field: location indexes point at the form's rows."""
    shown = {}
    for key, message in errors.items():
        if match := _LOCATION_KEY.match(key):
            index = int(match.group(1))
            row = kept[index] if index < len(kept) else index
            key = f"locations.{row}.{match.group(2)}"
        shown[key] = message
    return shown


def _form_page(form: dict, listing: Listing | None = None, errors: dict | None = None,
               message: str | None = None, status: int = 200):
    body = render_template("staff/listings/form.html", form=form, listing=listing, errors=errors or {},
                           message=message, choices=form_choices(), taxonomy=reference.taxonomy(),
                           org_types=ORG_TYPES, location_fields=LOCATION_FIELDS)
    return body, status


@bp.route("/new", methods=["GET", "POST"])
@role_required(*EDITORS)
def new():
    kind = request.values.get("kind", "organization")
    if kind not in KINDS:
        abort(404)
    if request.method == "GET":
        return _form_page(_blank_form(kind))
    form = _form_from_request(kind)
    data, kept, errors = _listing_input(request_session(), form, None)
    try:
        with staff_work() as work:
            if errors:
                raise ValidationError(errors)
            listing = create_listing(work.session, data, actor=work.actor)
    except ValidationError as error:
        return _form_page(form, errors=_form_errors(error.errors, kept), status=400)
    listing_id, name = listing.id, listing.name
    flash(f"{name} was created and is in public search.", "success")
    return redirect(url_for("staff_listings.edit", listing_id=listing_id), code=303)


@bp.route("/<int:listing_id>/edit", methods=["GET", "POST"])
@role_required(*EDITORS)
def edit(listing_id: int):
    db = request_session()
    listing = db.get(Listing, listing_id)
    if listing is None:
        abort(404)
    if request.method == "GET":
        return _form_page(_form_from_listing(db, listing), listing)
    form = _form_from_request(listing.kind)
    version = whole_number(form["version"])
    if version is None:
        return _form_page(form, listing, message="The form was missing its version; reload the page.", status=400)
    data, kept, errors = _listing_input(db, form, listing_id)
    try:
        with staff_work() as work:
            if errors:
                raise ValidationError(errors)
            update_listing(work.session, listing_id, data, actor=work.actor, expected_version=version)
    except StaleVersion:
        return _form_page(form, db.get(Listing, listing_id), message=STALE_MESSAGE, status=409)
    except ValidationError as error:
        return _form_page(form, db.get(Listing, listing_id), errors=_form_errors(error.errors, kept), status=400)
    name = listing.name
    flash(f"Saved {name}; public search shows the change.", "success")
    return redirect(url_for("staff_listings.edit", listing_id=listing_id), code=303)


def _set_active(listing_id: int, active: bool):
    try:
        with staff_work() as work:
            listing = set_active(work.session, listing_id, active, actor=work.actor)
    except LookupError:
        abort(404)
    name = listing.name
    if active:
        flash(f"{name} was restored and is back in public search.", "success")
    else:
        flash(f"{name} was deactivated and no longer appears in public search.", "success")
    return redirect(url_for("staff_listings.edit", listing_id=listing_id), code=303)


@bp.post("/<int:listing_id>/deactivate")
@role_required(*EDITORS)
def deactivate(listing_id: int):
    return _set_active(listing_id, False)


@bp.post("/<int:listing_id>/restore")
@role_required(*EDITORS)
def restore(listing_id: int):
    return _set_active(listing_id, True)

