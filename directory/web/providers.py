"""A listing's own public page (everything we know about one provider) and its problem-report form."""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from directory import reference
from directory.db import request_session
from directory.models import Listing
from directory.read import hydrate
from directory.read.shapes import ListingDetail, LocationPublic, PlacePublic, RolePublic
from directory.services import reports
from directory.services.errors import ValidationError
from directory.services.unit_of_work import unit_of_work

bp = Blueprint("providers", __name__)

DAYS = (("mon", "Monday"), ("tue", "Tuesday"), ("wed", "Wednesday"), ("thu", "Thursday"),
        ("fri", "Friday"), ("sat", "Saturday"), ("sun", "Sunday"))
ORG_TYPES = {
    "infusion_center": "Infusion centre",
    "home_infusion": "Home-infusion pharmacy",
    "hospital_infusion": "Hospital outpatient infusion unit",
    "specialty_pharmacy": "Specialty pharmacy",
    "practice": "Medical practice",
}
GENDERS = {"F": "Female", "M": "Male", "X": "Another gender"}
METHODS = {"phone": "By phone", "email": "By email", "attestation": "By the provider's attestation",
           "nppes": "Against the NPPES registry", "import": "By data import"}
REMOVED = "This listing was removed from the directory. Search for another provider nearby."
EMPTY_FORM = {"problem": "", "details": "", "contact": ""}
THANKS = "Thank you — your report was sent to our staff."


class RoleLine(NamedTuple):
    """A role as the page lists it: where, what as, and whether its organization has a page."""

    role: RolePublic
    location: PlacePublic | None
    specialty_label: str | None
    linked: bool


def directions_url(loc: LocationPublic) -> str:
    """Google Maps directions to this address (a plain link the user's browser opens)."""
    address = f"{loc.address}, {loc.city}, {loc.state} {loc.zip}"
    return "https://www.google.com/maps/dir/?" + urlencode({"api": "1", "destination": address})


def _active_ids(ids: set[int]) -> set[int]:
    if not ids:
        return set()
    return set(request_session().execute(select(Listing.id).where(Listing.id.in_(ids), Listing.active)).scalars())


def page_context(listing: ListingDetail) -> dict:
    """Labels for codes (services, languages, specialties, plan types), per-location extras and
    role details, so the template only lays things out."""
    services = reference.vocabulary().by_id
    languages = reference.languages()
    taxonomy = reference.taxonomy()
    plan_types = reference.plan_types()
    locations = {loc.id: loc for loc in listing.locations}
    roles = listing.roles or []
    linkable = _active_ids({role.organization_id for role in roles if role.organization_id})
    method = listing.verification.method
    return {
        "listing": listing,
        "directions": {loc.id: directions_url(loc) for loc in listing.locations},
        "hours_rows": {loc.id: [(label, loc.hours.get(day)) for day, label in DAYS] if loc.hours else []
                       for loc in listing.locations},
        "plan_labels": {n.id: plan_types.get(n.plan_type, {}).get("display", n.plan_type) for n in listing.networks},
        "roles": [
            RoleLine(role, locations.get(role.location_id),
                     taxonomy.get(role.specialty, {}).get("display") if role.specialty else None,
                     role.organization_id in linkable)
            for role in roles
        ],
        "service_labels": [services[s].label if s in services else s for s in listing.services],
        "language_names": [languages.get(code, code) for code in listing.languages],
        "org_type": ORG_TYPES.get(listing.organization.type) if listing.organization else None,
        "gender": GENDERS.get(listing.practitioner.gender) if listing.practitioner else None,
        "method": METHODS.get(method, method),  # how, never who
        "problems": reports.PROBLEMS,
        "limits": {"details_min": reports.DETAILS_MIN, "details_max": reports.DETAILS_MAX},
    }


def _load(lid: int) -> ListingDetail:
    listing = hydrate.detail(request_session(), lid)
    if listing is None:
        abort(404)
    if not listing.active:
        abort(410, description=REMOVED)
    return listing


def _render(listing: ListingDetail, *, form: dict | None = None, errors: dict | None = None,
            report_message: str | None = None, status: int = 200):
    context = page_context(listing)
    context.update(form=form or EMPTY_FORM, errors=errors or {}, report_message=report_message)
    return render_template("provider.html", **context), status


@bp.get("/providers/<int:lid>")
def provider(lid: int):
    return _render(_load(lid))


@bp.post("/providers/<int:lid>/report")
def report(lid: int):
    """Store a problem report; thank the user, or show the form again with what went wrong."""
    listing = _load(lid)
    form = {name: request.form.get(name, "") for name in EMPTY_FORM}
    key = reports.client_key(request.remote_addr, current_app.config["SECRET_KEY"])
    errors, limited = None, None
    try:
        with unit_of_work("public", session=request_session()) as work:
            reports.file_report(work.session, listing_id=lid, problem=form["problem"], details=form["details"],
                                contact=form["contact"], client_key=key)
    except LookupError:
        abort(404)
    except ValidationError as error:
        errors = error.errors
    except reports.RateLimited as error:
        limited = error.message
    if errors:
        return _render(listing, form=form, errors=errors, status=400)
    if limited:
        body, status = _render(listing, form=form, report_message=limited, status=429)
        return body, status, {"Retry-After": "3600"}
    flash(THANKS, "success")
    return redirect(url_for("providers.provider", lid=lid), code=303)
