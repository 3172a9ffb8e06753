"""OpenAPI 3.1 description of the JSON API, built once: the schemas are generated from the public
shapes (`directory.read.shapes`), the parameters from the same constants the validators use.

The shapes are closed (`additionalProperties: false`), so the test suite can validate real
responses against them and notice when either side drifts.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from directory import reference
from directory.geo import MAX_RADIUS_MI, ZIP_PATTERN
from directory.models import KINDS
from directory.places import MAX_PLACE
from directory.read import shapes
from directory.search.query import (
    DEFAULT_RADIUS_MI,
    MAX_DEPTH,
    MAX_PAGE,
    MAX_PER_PAGE,
    MAX_Q,
    SORTS,
    TRUE_WORDS,
)
from directory.web import MAX_ID

# The shapes response bodies have; the schemas of their parts come along as `$defs`.
RESPONSE_SHAPES = (shapes.ErrorBody, shapes.SearchPage, shapes.ListingDetail, shapes.ZipPlacePublic,
                   shapes.SpecialtyList, shapes.NetworkList, shapes.Health)
# Component names the API has always used, where they are not the shape's name less "Public".
NAMES = {"ErrorBody": "Error", "SearchPage": "SearchResponse", "ListingDetail": "ProviderDetail",
         "ListingCard": "SearchResult", "ListingSpecialtyPublic": "ListingSpecialty"}


class ComponentSchemas(GenerateJsonSchema):
    """Schemas named as components (`Location`, not `LocationPublic`), without per-field titles."""

    def normalize_name(self, name: str) -> str:
        name = super().normalize_name(name)
        return NAMES.get(name, name.removesuffix("Public"))

    def field_title_should_be_set(self, schema) -> bool:
        return False


def component_schemas() -> dict[str, dict]:
    """Every shape a response has (the shapes' `$defs`), as OpenAPI components."""
    _, top = models_json_schema([(shape, "serialization") for shape in RESPONSE_SHAPES],
                                ref_template="#/components/schemas/{model}", schema_generator=ComponentSchemas)
    return top["$defs"]


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def t(kind: str, **extra) -> dict:
    return {"type": kind, **extra}


def array(items: dict) -> dict:
    return {"type": "array", "items": items}


def param(name: str, schema: dict, description: str, where: str = "query", **extra) -> dict:
    out = {"name": name, "in": where, "description": description, "schema": schema, **extra}
    if where == "path":
        out["required"] = True
    else:
        # `zip=` is the same as no zip: an HTML form sends its empty fields (the site shares the parser).
        out["allowEmptyValue"] = True
    return out


def repeated(name: str, items: dict, description: str) -> dict:
    return param(name, array(items) | {"maxItems": 50}, description + " Repeat the parameter, or separate "
                 "values with commas; matches listings having any of them.", style="form", explode=True)


def flag(name: str, description: str) -> dict:
    words = "/".join(TRUE_WORDS)
    return param(name, t("boolean"), f"{description} Spellings {words} (any case); false means no filter.")


def search_parameters() -> list[dict]:
    return [
        param("place", t("string", maxLength=MAX_PLACE), "Where to search around: a ZIP or ZIP+4, \"City, ST\" "
              "or \"City ST\" (e.g. Boston, MA; resolved offline from the ZIP gazetteer, to the centroid of the "
              "city's ZIP codes), or a street address when the server has a geocoder configured. The place "
              "found is echoed as `place` in the response. 400 when it cannot be resolved: code unknown_zip, "
              "unknown_place, ambiguous_place (with `matches`, the cities the name could mean; send one's "
              "`place` value), needs_geocoder (a street address, and no geocoder) or address_not_found; 503 "
              "geocoder_unavailable when the geocoder fails. Not together with zip or lat/lon."),
        param("zip", t("string", pattern=ZIP_PATTERN.pattern), "5-digit ZIP or ZIP+4 to search around; "
              "400 if malformed or not an active US ZIP. Not together with lat/lon or place."),
        param("lat", t("number", minimum=-90, maximum=90), "Latitude of the place; needs lon."),
        param("lon", t("number", minimum=-180, maximum=180), "Longitude of the place; needs lat."),
        param("radius", t("number", minimum=1, maximum=MAX_RADIUS_MI, default=DEFAULT_RADIUS_MI),
              "Miles around the place; needs place, zip or lat/lon."),
        param("q", t("string", maxLength=MAX_Q), "Plain words (names, conditions, specialties, services); "
              "typo-tolerant. Operators, field names and wildcards are searched as text."),
        repeated("specialty", t("string", enum=list(reference.taxonomy())),
                 "NUCC taxonomy code (case-insensitive); see /api/v1/specialties."),
        repeated("network", t("integer", minimum=0, maximum=999_999_999),
                 "Network id; see /api/v1/networks."),
        param("kind", t("string", enum=list(KINDS)), "Only organizations or only practitioners."),
        flag("accepting", "Keep only listings accepting new patients."),
        flag("telehealth", "Keep only listings offering telehealth."),
        repeated("language", t("string", enum=list(reference.languages())), "ISO 639-1 language code."),
        repeated("service", t("string", enum=[c.id for c in reference.vocabulary().services()]),
                 "Service offered."),
        param("sort", t("string", enum=list(SORTS)), "Order; default distance with a place, relevance "
              "without; distance needs a place. Ties break by name, then id."),
        param("page", t("integer", minimum=1, maximum=MAX_PAGE, default=1), "1-based page; past the end "
              f"gives no results. page × per_page may be at most {MAX_DEPTH:,} (400, code page_too_deep). Pages "
              "beyond the 10th are rate-limited per client (429)."),
        param("per_page", t("integer", minimum=1, maximum=MAX_PER_PAGE, default=20), "Results per page."),
    ]


def ok(schema: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


BAD = {"400": ok("Error", "A parameter is invalid; `field` names it.")}
MISSING = {"404": ok("Error", "Not found.")}
GONE = {"410": ok("Error", "The listing was removed from the directory (deactivated); `field` is id. "
                           "An id that was never a listing is 404.")}
LIMITED = {"429": ok("Error", "Too many deep pages from this client (rate limit, see DEEP_PAGE_RATE_LIMIT); "
                              "code too_many_requests.")
           | {"headers": {"Retry-After": {"description": "Seconds to wait before asking again.",
                                          "schema": t("integer", minimum=1)}}}}
REBUILDING = {"503": ok("Error", "The search index cannot be opened (e.g. it is being rebuilt).")}
GEOCODER_DOWN = {"503": ok("Error", "The search index cannot be opened (e.g. it is being rebuilt; code "
                                    "index_unavailable), or a street address was given as place and the "
                                    "configured geocoder did not answer (code geocoder_unavailable).")}
ANY_PATH = {
    "405": ok("Error", "Another method than GET (the API is read-only).")
    | {"headers": {"Allow": {"description": "The methods this path answers.", "schema": t("string")}}},
    "413": ok("Error", "The request body is larger than the server's limit (MAX_CONTENT_LENGTH, 1 MB by "
                       "default); code request_too_large."),
    "500": ok("Error", "An internal error; code internal_error, and the message names an incident id that "
                       "the server logged (no detail of the error is sent)."),
}


def get(op_id: str, summary: str, responses: dict, parameters: list | None = None) -> dict:
    """A GET operation; every path also answers 405 to other methods, 413 to a large body and 500 to
    an internal error."""
    responses = responses | ANY_PATH
    op = {"operationId": op_id, "summary": summary, "responses": dict(sorted(responses.items()))}
    if parameters:
        op["parameters"] = parameters
    return {"get": op}


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    """The OpenAPI 3.1 document served at /api/v1/openapi.json. Do not mutate the result."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "IVIG Provider Directory API",
            "version": "1",
            "description": "Read-only search of IVIG infusion centres and prescribing specialists. "
                           "Out-of-range values are rejected with 400, never clamped. Errors have one "
                           "shape: {\"error\": {\"code\", \"message\", \"field\"}}.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "paths": {
            "/api/v1/search": get("search", "Search listings", {
                "200": ok("SearchResponse", "One page of results within the radius."), **BAD, **LIMITED,
                **GEOCODER_DOWN,
            }, search_parameters()),
            "/api/v1/providers/{id}": get("getProvider", "One listing with every location and role", {
                "200": ok("ProviderDetail", "The listing."), **MISSING, **GONE,
            }, [param("id", t("integer", minimum=0, maximum=MAX_ID),
                      "Listing id; any number that is not a listing's id is 404.", "path", example=1)]),
            "/api/v1/specialties": get("listSpecialties", "NUCC specialties that can be searched", {
                "200": ok("SpecialtyList", "Every specialty, in taxonomy order."),
            }),
            "/api/v1/networks": get("listNetworks", "Payer networks", {
                "200": ok("NetworkList", "Every network, by payer then name."),
            }),
            "/api/v1/zip/{zip}": get("lookupZip", "Centroid of a ZIP code", {
                "200": ok("ZipPlace", "The ZIP's city, state and centroid."), **MISSING,
            }, [param("zip", t("string", pattern=ZIP_PATTERN.pattern), "5-digit ZIP or ZIP+4; anything else, "
                      "or a ZIP that is not an active US ZIP, is 404.", "path", example="02115")]),
            "/healthz": get("health", "Database and search index check",
                            {"200": ok("Health", "Healthy."), **REBUILDING}),
            "/api/v1/openapi.json": get("openapi", "This document", {
                "200": {"description": "OpenAPI 3.1 document.",
                        "content": {"application/json": {"schema": {"type": "object"}}}},
            }),
        },
        "components": {"schemas": component_schemas()},
    }
