"""Public pages for patients and referring physicians: search, results, export, referral list."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, render_template, request, url_for
from sqlmodel import Session

from directory import hydrate
from directory.csvcells import neutralise_row
from directory.db import get_engine
from directory.search import get_searcher
from directory.search.query import QueryError, SearchQuery, parse_search_args
from directory.web import choices
from directory.web.api import known_networks

bp = Blueprint("public", __name__)


@bp.app_template_filter("tel")
def tel_href(phone: str) -> str:
    """'(617) 555-0100' -> 'tel:+16175550100' for phone links."""
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return f"tel:+1{digits}" if len(digits) == 10 else f"tel:{digits}"

RADII = (5, 10, 25, 50, 100)
SEARCH_PARAMS = ("zip", "lat", "lon", "radius", "q", "specialty", "network", "kind", "accepting",
                 "telehealth", "language", "service", "sort", "page", "per_page")
EXPORT_LIMIT = 5000
PRINT_LIMIT = 500


def _form_values(args) -> dict:
    """What the user typed, to put back into the form (never re-interpreted)."""
    values = {name: args.get(name, "") for name in SEARCH_PARAMS}
    for name in ("specialty", "network", "language", "service"):
        values[name] = args.getlist(name)
    return values


def _has_search(args) -> bool:
    return any(args.get(name) for name in ("zip", "lat", "q", "specialty", "network", "service"))


def query_string(args, **changes) -> str:
    """The current search's parameters with some replaced (None removes), for links."""
    pairs = [(k, v) for k in SEARCH_PARAMS for v in args.getlist(k) if k not in changes and v != ""]
    for key, value in changes.items():
        if value is None:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            pairs.append((key, item))
    return urlencode(pairs)


def _suggestions(query: SearchQuery, args) -> list[tuple[str, str]]:
    """One-click ways to widen a search that found nothing: (label, href)."""
    out = []
    if query.place is not None:
        wider = next((r for r in (*RADII, 250, 500) if r > query.place.radius_mi), None)
        if wider:
            out.append((f"Search within {wider} miles", "?" + query_string(args, radius=wider, page=None)))
    for name, label in (("network", "any insurance network"), ("specialty", "any specialty"),
                        ("accepting", "also those not taking new patients"),
                        ("telehealth", "also in-person only"), ("language", "any language"),
                        ("service", "any service"), ("kind", "both places and clinicians"),
                        ("q", "without the words you typed")):
        if args.get(name):
            out.append((f"Show {label}", "?" + query_string(args, **{name: None, "page": None})))
    return out


def _search_page_context(args) -> dict:
    context = {"values": _form_values(args), "errors": {}, "searched": False, "radii": RADII,
               "choices": choices.form_choices(), "query_string": lambda **c: query_string(args, **c)}
    if not _has_search(args):
        return context
    try:
        query = parse_search_args(args, known_networks)
    except QueryError as error:
        context["errors"][error.field] = error.message
        return context
    result = get_searcher().search(query)
    near = (query.place.lat, query.place.lon) if query.place else None
    distances = {h.lid: h.distance_mi for h in result.hits} if query.place else None
    with Session(get_engine()) as session:
        results = hydrate.summaries(session, [h.lid for h in result.hits], distances, near)
    pages = max(1, -(-result.total // query.per_page))
    context.update(
        searched=True,
        query=query,
        total=result.total,
        results=results,
        facets=choices.label_facets(result.facets),
        page=query.page,
        pages=pages,
        suggestions=_suggestions(query, args) if result.total == 0 else [],
        map_points=[
            {"id": r["id"], "name": r["name"], "lat": r["location"]["lat"], "lon": r["location"]["lon"],
             "url": url_for("providers.provider", lid=r["id"])}
            for r in results if r.get("location")
        ],
        tile_url=current_app.config.get("MAP_TILE_URL"),
        tile_attribution=current_app.config.get("MAP_TILE_ATTRIBUTION"),
    )
    return context


@bp.get("/")
def search():
    return render_template("search.html", **_search_page_context(request.args))


def _all_results(args, limit: int) -> tuple[SearchQuery, int, list[dict]]:
    """Every result of the search in `args` (all pages, up to `limit`), hydrated in order."""
    query = parse_search_args(args, known_networks)
    query = replace(query, page=1, per_page=limit, facets=False)
    result = get_searcher().search(query)
    near = (query.place.lat, query.place.lon) if query.place else None
    distances = {h.lid: h.distance_mi for h in result.hits} if query.place else None
    ids = [h.lid for h in result.hits]
    rows: list[dict] = []
    with Session(get_engine()) as session:
        for start in range(0, len(ids), 500):
            rows.extend(hydrate.summaries(session, ids[start:start + 500], distances, near))
    return query, result.total, rows


EXPORT_COLUMNS = ("id", "name", "kind", "npi", "distance_mi", "address", "city", "state", "zip",
                  "phone", "fax", "specialties", "networks", "accepting_new_patients", "telehealth",
                  "last_verified", "stale")


@bp.get("/export.csv")
def export_csv():
    """The whole result set of a search as CSV (every page, not only the one shown)."""
    try:
        _query, total, rows = _all_results(request.args, EXPORT_LIMIT)
    except QueryError as error:
        return Response(f"{error.field}: {error.message}\n", status=400, mimetype="text/plain")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for r in rows:
        loc = r.get("location") or {}
        # Names and the rest come from the public and from imports: never a formula in a spreadsheet.
        writer.writerow(neutralise_row([
            r["id"], r["name"], r["kind"], r["npi"], r.get("distance_mi", ""),
            loc.get("address", ""), loc.get("city", ""), loc.get("state", ""), loc.get("zip", ""),
            loc.get("phone") or "", loc.get("fax") or "",
            "; ".join(f"{s['display']} ({s['code']})" for s in r["specialties"]),
            "; ".join(n["name"] for n in r["networks"]),
            "yes" if r["accepting_new_patients"] else "no", "yes" if r["telehealth"] else "no",
            r["last_verified"] or "", "yes" if r["stale"] else "no",
        ]))
    headers = {"Content-Disposition": "attachment; filename=ivig-directory-results.csv",
               "X-Total-Count": str(total)}
    return Response(out.getvalue(), mimetype="text/csv", headers=headers)


@bp.get("/referrals")
def referral_list():
    """A printable referral list of the search's results."""
    try:
        query, total, rows = _all_results(request.args, PRINT_LIMIT)
    except QueryError as error:
        context = _search_page_context(request.args)
        context["errors"][error.field] = error.message
        return render_template("search.html", **context), 400
    return render_template("referrals.html", query=query, total=total, results=rows, limit=PRINT_LIMIT,
                           back="?" + query_string(request.args), today=date.today().isoformat())
