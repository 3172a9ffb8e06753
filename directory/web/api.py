"""The read-only JSON API (v1): search, one provider, specialties, networks, ZIP lookup, health."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import bindparam, select, text
from sqlmodel import Session

from directory import hydrate, reference
from directory.db import get_engine
from directory.geo import ZipError, lookup_zip
from directory.models import Network, Specialty
from directory.search import get_searcher
from directory.search.query import SearchQuery, parse_search_args
from directory.web.errors import error_response
from directory.web.openapi import openapi_document

bp = Blueprint("api", __name__)


KNOWN_NETWORKS = select(Network.id).where(Network.id.in_(bindparam("ids", expanding=True)))


def known_networks(ids: list[int]) -> set[int]:
    """Which of these network ids exist (a plain connection: this runs on most searches)."""
    with get_engine().connect() as conn:
        return set(conn.execute(KNOWN_NETWORKS, {"ids": ids}).scalars())


def run_search(query: SearchQuery) -> dict:
    """Search, then hydrate the page of hits from the database in rank order."""
    result = get_searcher().search(query)
    ids = [hit.lid for hit in result.hits]
    distances = {hit.lid: hit.distance_mi for hit in result.hits} if query.place else None
    near = (query.place.lat, query.place.lon) if query.place else None
    with get_engine().connect() as conn:  # Core rows only: a session would add nothing but its cost
        results = hydrate.summaries(conn, ids, distances, near)
    return {
        "total": result.total,
        "page": query.page,
        "per_page": query.per_page,
        "results": results,
        "facets": result.facets,
    }


@bp.get("/api/v1/search")
def search():
    query = parse_search_args(request.args, known_networks)
    return jsonify(run_search(query))


@bp.get("/api/v1/providers/<int:lid>")
def provider(lid: int):
    with Session(get_engine()) as session:
        body = hydrate.detail(session, lid)
    if body is None:
        return error_response(404, "not_found", f"no provider with id {lid}", "id")
    if not body["active"]:
        return error_response(410, "gone", f"provider {lid}: this listing was removed from the directory", "id")
    return jsonify(body)


@bp.get("/api/v1/specialties")
def specialties():
    with Session(get_engine()) as session:
        rows = session.execute(select(Specialty)).scalars().all()
    order = {code: i for i, code in enumerate(reference.taxonomy())}
    rows.sort(key=lambda s: (order.get(s.code, len(order)), s.code))
    return jsonify(
        {"results": [{"code": s.code, "display": s.display, "group": s.group} for s in rows]}
    )


@bp.get("/api/v1/networks")
def networks():
    with Session(get_engine()) as session:
        rows = session.execute(select(Network).order_by(Network.payer, Network.name)).scalars().all()
    return jsonify(
        {
            "results": [
                {"id": n.id, "name": n.name, "payer": n.payer, "plan_type": n.plan_type}
                for n in rows
            ]
        }
    )


@bp.get("/api/v1/zip/<zip_code>")
def zip_lookup(zip_code: str):
    try:
        place = lookup_zip(zip_code)
    except ZipError as error:
        return error_response(404, "unknown_zip", str(error), "zip")
    return jsonify(
        {"zip": place.zip, "city": place.city, "state": place.state, "lat": place.lat, "lon": place.lon}
    )


@bp.get("/healthz")
def healthz():
    with Session(get_engine()) as session:
        session.execute(text("select 1"))
    get_searcher()  # an index that cannot be opened answers 503 (see errors.py)
    return jsonify({"status": "ok", "search_backend": current_app.config["SEARCH_BACKEND"]})


@bp.get("/api/v1/openapi.json")
def openapi():
    return jsonify(openapi_document())
