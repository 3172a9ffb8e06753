"""Staff pages for keeping listings true: the verification queue, the audit trail, imports."""

from __future__ import annotations

import csv
import io
from datetime import date

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlmodel import Session
from werkzeug.exceptions import RequestEntityTooLarge, default_exceptions

from directory import audit
from directory.csvcells import neutralise_row
from directory.db import request_session
from directory.importers.networks import import_networks
from directory.importers.nppes import import_nppes
from directory.importers.template import TEMPLATE_HEADER, import_template
from directory.models import Listing
from directory.services import geocoding, verification
from directory.services.errors import StaleVersion, ValidationError
from directory.web.params import page_number, whole_number
from directory.web.staff.auth import role_required, staff_work

bp = Blueprint("staff_upkeep", __name__, url_prefix="/staff")

PER_PAGE = 50
AUDIT_PER_PAGE = 100
MAX_UPLOAD = 5 * 1024 * 1024
SHOWN_REJECTIONS = 200
KINDS = {"organization": "Organizations", "practitioner": "Practitioners"}
STATUS_LABELS = {"never": "Never verified", "overdue": "Overdue", "due_soon": "Due soon",
                 "reported": "Open reports", "networks_ended": "Out of every network"}
METHOD_LABELS = {"phone": "Phone", "email": "Email", "attestation": "Attestation", "nppes": "NPPES"}
IMPORTERS = {
    "template": ("Our CSV template", import_template),
    "nppes": ("NPPES data file", import_nppes),
    "networks": ("Networks CSV", import_networks),
}
TOO_LARGE = f"The file is too large: uploads may be at most {MAX_UPLOAD // (1024 * 1024)} MB."


@bp.url_value_preprocessor
def _limit_uploads(endpoint, _values) -> None:
    # Runs before the CSRF check reads the form, so an oversized upload is refused unread.
    if endpoint == "staff_upkeep.imports" and request.method == "POST":
        request.max_content_length = MAX_UPLOAD


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_error):
    return render_template("error.html", error=RequestEntityTooLarge(TOO_LARGE)), 413


def _page() -> int:
    return page_number(request.args.get("page"))


# --- verification queue ------------------------------------------------------------------------

def _queue_filters() -> dict:
    state = request.values.get("state", "").strip().upper()
    kind = request.values.get("kind", "").strip()
    return {"state": state if len(state) == 2 and state.isalpha() else "",
            "kind": kind if kind in KINDS else ""}


@bp.get("/verification")
@role_required("verifier")
def verification_queue():
    """Listings due for verification, oldest first, with the counts at the top."""
    filters, page = _queue_filters(), _page()
    db = request_session()
    counts = verification.dashboard_counts(db)
    items = verification.queue(db, state=filters["state"] or None, kind=filters["kind"] or None,
                               limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE)
    versions = _versions(db, [item.listing_id for item in items])
    unplaced = geocoding.unplaced(db, limit=PER_PAGE) if page == 1 else []  # addresses a geocoder could not place
    return render_template("staff/upkeep/verification.html", counts=counts, items=items[:PER_PAGE],
                           versions=versions, filters=filters, page=page, has_next=len(items) > PER_PAGE,
                           kinds=KINDS, statuses=STATUS_LABELS, methods=METHOD_LABELS, unplaced=unplaced)


def _versions(db: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    return dict(db.execute(select(Listing.id, Listing.version).where(Listing.id.in_(ids))).all())


def _back_to_queue():
    filters = {key: value for key, value in _queue_filters().items() if value}
    page = request.form.get("page", "")
    if page_number(page) > 1:
        filters["page"] = str(page_number(page))
    return redirect(url_for("staff_upkeep.verification_queue", **filters), code=303)


@bp.post("/verification/<int:listing_id>")
@role_required("verifier")
def verify(listing_id: int):
    """One-click verification: "verified, no change" or "verified with changes" by a method."""
    changed = request.form.get("changed") == "1"
    method = request.form.get("method", "")
    version = request.form.get("version", "")
    expected = whole_number(version)
    if expected is None:  # without the version seen, a verification could overwrite a newer edit
        return render_template("error.html", error=_error(400, "The form was missing the listing's version; "
                                                               "reload the queue and verify again.")), 400
    try:
        with staff_work() as work:
            listing = verification.verify_listing(work.session, listing_id, by=work.actor, method=method,
                                                  changed=changed, expected_version=expected,
                                                  resolve_reports=True)
    except LookupError:
        return render_template("error.html", error=_error(404, "No such listing.")), 404
    except StaleVersion as error:
        return render_template("staff/upkeep/conflict.html", message=str(error),
                               back=url_for("staff_upkeep.verification_queue",
                                            **{k: v for k, v in _queue_filters().items() if v})), 409
    except ValidationError as error:
        flash(" ".join(error.errors.values()), "error")
        return _back_to_queue()
    name = listing.name
    label = "with changes" if changed else "no change"
    flash(f"{name} verified ({label}, by {METHOD_LABELS.get(method, method).lower()}).", "success")
    return _back_to_queue()


def _error(code: int, description: str):
    return default_exceptions[code](description)


# --- audit trail -------------------------------------------------------------------------------

def _audit_filters() -> tuple[dict, dict, dict]:
    """(form values, arguments for `audit`, errors)."""
    raw = {name: request.args.get(name, "").strip() for name in ("listing_id", "actor", "action", "since", "until")}
    args: dict = {}
    errors: dict = {}
    if raw["listing_id"]:
        if (listing_id := whole_number(raw["listing_id"])) is not None:
            args["listing_id"] = listing_id
        else:
            errors["listing_id"] = "Listing id must be a number."
    for name in ("actor", "action"):
        if raw[name]:
            args[name] = raw[name]
    for name in ("since", "until"):
        if raw[name]:
            try:
                args[name] = date.fromisoformat(raw[name])
            except ValueError:
                errors[name] = "Use a date like 2026-01-31."
    return raw, args, errors


@bp.get("/audit")
@role_required("editor", "verifier")
def audit_log():
    """The audit trail, newest first, filtered by listing, actor, action and dates."""
    raw, args, errors = _audit_filters()
    page = _page()
    db = request_session()
    rows = audit.entries(db, **args, limit=AUDIT_PER_PAGE + 1, offset=(page - 1) * AUDIT_PER_PAGE)
    query = {k: v for k, v in raw.items() if v}
    status = 400 if errors else 200
    return render_template("staff/upkeep/audit.html", entries=rows[:AUDIT_PER_PAGE], filters=raw, errors=errors,
                           page=page, has_next=len(rows) > AUDIT_PER_PAGE, query=query), status


@bp.get("/audit.csv")
@role_required("editor", "verifier")
def audit_csv():
    raw, args, errors = _audit_filters()
    if errors:
        return render_template("error.html", error=_error(400, " ".join(errors.values()))), 400
    buffer = io.StringIO()
    db = request_session()
    audit.export_csv(db, buffer, **args)
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"'})


# --- imports -----------------------------------------------------------------------------------

def _imports_page(*, kind: str = "template", dry_run: bool = True, report=None, error: str | None = None,
                  filename: str = "", status: int = 200):
    body = render_template("staff/upkeep/imports.html", importers={k: v[0] for k, v in IMPORTERS.items()},
                           kind=kind, dry_run=dry_run, report=report, error=error, filename=filename,
                           shown=SHOWN_REJECTIONS, max_mb=MAX_UPLOAD // (1024 * 1024))
    return body, status


@bp.route("/imports", methods=["GET", "POST"])
@role_required("admin")
def imports():
    """Upload a file to import; a dry run (the default) reports what would change and writes nothing."""
    if request.method == "GET":
        return _imports_page()
    kind = request.form.get("kind", "")
    dry_run = request.form.get("dry_run") == "1"
    if kind not in IMPORTERS:
        return _imports_page(dry_run=dry_run, error="Choose the type of file.", status=400)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _imports_page(kind=kind, dry_run=dry_run, error="Choose a file to upload.", status=400)
    data = upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        return _too_large(None)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return _imports_page(kind=kind, dry_run=dry_run, filename=upload.filename, status=400,
                             error=f"The file is not UTF-8 text (byte {error.start} cannot be read). "
                                   "Save it as CSV UTF-8 and upload it again.")
    importer = IMPORTERS[kind][1]
    try:
        with staff_work() as work:  # the importer commits batch by batch; the index follows at the end
            report = importer(work.session, io.StringIO(text, newline=""), actor=work.actor, dry_run=dry_run)
    except ValueError as error:  # an unreadable file (a wrong header), before any row is written
        return _imports_page(kind=kind, dry_run=dry_run, filename=upload.filename, status=400,
                             error=f"The file could not be read: {error}")
    return _imports_page(kind=kind, dry_run=dry_run, report=report, filename=upload.filename)


@bp.get("/imports/template.csv")
@role_required("admin")
def import_template_csv():
    """The empty template: its header, written like every CSV we write (cells neutralised)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(neutralise_row(TEMPLATE_HEADER))
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="ivig-directory-template.csv"'})
