"""Public pages for patients and referring physicians: search, results, export, referral list."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, render_template, request, url_for

from directory.csvcells import neutralise_row
from directory.read.find import find
from directory.read.shapes import CSV_COLUMNS, ListingCard, SearchPlacePublic, csv_row
from directory.search.query import QueryError, SearchQuery
from directory.web import choices
from directory.web.place_param import PlaceQueryError, configured_geocoder, parse_search

bp = Blueprint("public", __name__)


@bp.app_template_filter("tel")
def tel_href(phone: str) -> str:
    """'(617) 555-0100' -> 'tel:+16175550100' for phone links."""
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return f"tel:+1{digits}" if len(digits) == 10 else f"tel:{digits}"

RADII = (5, 10, 25, 50, 100)
SEARCH_PARAMS = ("place", "zip", "lat", "lon", "radius", "q", "specialty", "network", "kind", "accepting",
                 "telehealth", "language", "service", "sort", "page", "per_page")
EXPORT_LIMIT = 5000
PRINT_LIMIT = 500


def _form_values(args) -> dict:
    """What the user typed, to put back into the form (never re-interpreted)."""
    values = {name: args.get(name, "") for name in SEARCH_PARAMS}
    for name in ("specialty", "network", "language", "service"):
        values[name] = args.getlist(name)
    values["place"] = values["place"] or values["zip"]  # the place box shows a link's zip= too
    return values


def _has_search(args) -> bool:
    return any(args.get(name) for name in ("place", "zip", "lat", "q", "specialty", "network", "service"))


def place_name(place: SearchPlacePublic | None) -> str:
    """How the results line names the place searched: its ZIP, city or address, or "your location"."""
    if place is None or place.resolved_by == "coordinates":
        return "your location"
    return place.name.split(" (", 1)[0] if place.resolved_by == "zip" else place.name


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
               "choices": choices.form_choices(), "query_string": lambda **c: query_string(args, **c),
               "geocoder": configured_geocoder() is not None, "place_matches": []}
    if not _has_search(args):
        return context
    try:
        query, place = parse_search(args, place_wins=True)
    except QueryError as error:
        # A zip= from a link is typed in the place box: its message goes beside that box.
        context["errors"]["place" if error.field == "zip" else error.field] = error.message
        context["status"] = 400 if error.code == "page_too_deep" else 200
        if isinstance(error, PlaceQueryError):
            context["place_matches"] = [
                (match.label, "?" + query_string(args, place=match.label, zip=None, lat=None, lon=None, page=None))
                for match in error.matches]
        return context
    found = find(query)
    pages = max(1, -(-found.total // query.per_page))
    context.update(
        searched=True,
        query=query,
        place_name=place_name(place),
        total=found.total,
        results=found.results,
        facets=choices.label_facets(found.facets),
        page=query.page,
        pages=pages,
        suggestions=_suggestions(query, args) if found.total == 0 else [],
        map_points=[
            {"id": card.id, "name": card.name, "lat": card.location.lat, "lon": card.location.lon,
             "url": url_for("providers.provider", lid=card.id)}
            for card in found.results if card.location
        ],
        tile_url=current_app.config.get("MAP_TILE_URL"),
        tile_attribution=current_app.config.get("MAP_TILE_ATTRIBUTION"),
    )
    return context


@bp.get("/")
def search():
    context = _search_page_context(request.args)
    return render_template("search.html", **context), context.get("status", 200)


def _all_results(args, limit: int) -> tuple[SearchQuery, int, list[ListingCard]]:
    """Every result of the search in `args` (all pages, up to `limit`), hydrated in order."""
    query, _place = parse_search(args, place_wins=True)
    query = replace(query, page=1, per_page=limit, facets=False)
    found = find(query)
    return query, found.total, found.results


@bp.get("/export.csv")
def export_csv():
    """The whole result set of a search as CSV (every page, not only the one shown)."""
    try:
        _query, total, cards = _all_results(request.args, EXPORT_LIMIT)
    except QueryError as error:
        return Response(f"{error.field}: {error.message}\n", status=400, mimetype="text/plain")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    # Names and the rest come from the public and from imports: never a formula in a spreadsheet.
    writer.writerows(neutralise_row(csv_row(card)) for card in cards)
    headers = {"Content-Disposition": "attachment; filename=ivig-directory-results.csv",
               "X-Total-Count": str(total)}
    return Response(out.getvalue(), mimetype="text/csv", headers=headers)


@bp.get("/referrals")
def referral_list():
    """A printable referral list of the search's results."""
    try:
        query, total, cards = _all_results(request.args, PRINT_LIMIT)
    except QueryError as error:
        context = _search_page_context(request.args)
        context["errors"].setdefault("place" if error.field == "zip" else error.field, error.message)
        return render_template("search.html", **context), 400
    return render_template("referrals.html", query=query, total=total, results=cards, limit=PRINT_LIMIT,
                           back="?" + query_string(request.args), today=date.today().isoformat())
