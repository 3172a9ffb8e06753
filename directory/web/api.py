"""The read-only JSON API (v1): search, one provider, specialties, networks, ZIP lookup, health."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel
from sqlalchemy import text

from directory.db import request_session
from directory.geo import ZipError, lookup_zip
from directory.read import hydrate, reference
from directory.read.find import find_json
from directory.read.shapes import ErrorBody, Health, NetworkList, SpecialtyList, ZipPlacePublic
from directory.search import get_searcher
from directory.web.errors import error_response
from directory.web.openapi import openapi_document
from directory.web.place_param import GeocoderDown, PlaceQueryError, parse_search

bp = Blueprint("api", __name__)


def shape_response(shape: BaseModel) -> Response:
    """A public shape as the JSON body of a 200 (pydantic's encoder: the shape knows its fields)."""
    return current_app.response_class(shape.model_dump_json(), mimetype="application/json")


@bp.get("/api/v1/search")
def search():
    try:
        query, place = parse_search(request.args)
    except PlaceQueryError as error:
        body = ErrorBody.model_validate({"error": {
            "code": error.code, "message": error.message, "field": error.field,
            "matches": [{"city": m.city, "state": m.state, "place": m.label} for m in error.matches] or None}})
        return current_app.response_class(body.model_dump_json(), status=400, mimetype="application/json")
    except GeocoderDown as error:
        return error_response(503, error.code, error.message, error.field)
    body = find_json(query, place)
    return current_app.response_class(body, mimetype="application/json")


@bp.get("/api/v1/providers/<int:lid>")
def provider(lid: int):
    listing = hydrate.detail(request_session(), lid)
    if listing is None:
        return error_response(404, "not_found", f"no provider with id {lid}", "id")
    if not listing.active:
        return error_response(410, "gone", f"provider {lid}: this listing was removed from the directory", "id")
    return shape_response(listing)


@bp.get("/api/v1/specialties")
def specialties():
    return shape_response(SpecialtyList(results=reference.specialties()))


@bp.get("/api/v1/networks")
def networks():
    return shape_response(NetworkList(results=reference.networks()))


@bp.get("/api/v1/zip/<zip_code>")
def zip_lookup(zip_code: str):
    try:
        place = lookup_zip(zip_code)
    except ZipError as error:
        return error_response(404, "unknown_zip", str(error), "zip")
    return shape_response(ZipPlacePublic(zip=place.zip, city=place.city, state=place.state, lat=place.lat,
                                         lon=place.lon))


@bp.get("/healthz")
def healthz():
    request_session().execute(text("select 1"))
    get_searcher()  # an index that cannot be opened answers 503 (see errors.py)
    return shape_response(Health(status="ok", search_backend=current_app.config["SEARCH_BACKEND"]))


@bp.get("/api/v1/openapi.json")
def openapi():
    return jsonify(openapi_document())
