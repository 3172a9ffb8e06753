"""OpenAPI 3.1 description of the JSON API, built once from the same constants the validators use.

Schemas follow `directory.hydrate` exactly (`additionalProperties: false`), so the test suite can
validate real responses against them and notice when either side drifts.
"""

from __future__ import annotations

from functools import lru_cache

from directory import reference
from directory.geo import MAX_RADIUS_MI, ZIP_PATTERN
from directory.models import GEO_SOURCES, KINDS, VERIFICATION_METHODS
from directory.search.query import (
    DEFAULT_RADIUS_MI,
    MAX_PAGE,
    MAX_PER_PAGE,
    MAX_Q,
    SORTS,
    TRUE_WORDS,
)
from directory.web import MAX_ID


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def t(kind: str, nullable: bool = False, **extra) -> dict:
    """A scalar schema; `nullable` allows JSON null as well (OpenAPI 3.1 style type list)."""
    return {"type": [kind, "null"] if nullable else kind, **extra}


def array(items: dict) -> dict:
    return {"type": "array", "items": items}


def obj(props: dict, optional: tuple[str, ...] = ()) -> dict:
    """A closed object: every property required unless named in `optional`."""
    return {
        "type": "object",
        "properties": props,
        "required": [name for name in props if name not in optional],
        "additionalProperties": False,
    }


def counts() -> dict:
    return {"type": "object", "additionalProperties": t("integer", minimum=0)}


DATE = t("string", True, format="date")
LOCATION = {
    "id": t("integer"),
    "name": t("string", True),
    "address": t("string"),
    "city": t("string"),
    "state": t("string", minLength=2, maxLength=2),
    "zip": t("string", pattern=r"^\d{5}$"),
    "lat": t("number", minimum=-90, maximum=90),
    "lon": t("number", minimum=-180, maximum=180),
    "phone": t("string", True),
    "fax": t("string", True),
}
SUMMARY = {
    "id": t("integer"),
    "kind": t("string", enum=list(KINDS)),
    "name": t("string"),
    "npi": t("string", pattern=r"^\d{10}$"),
    "distance_mi": t("number", minimum=0, description="Miles to the place searched, rounded to 0.1; "
                     "only when a place (zip, or lat and lon) was given."),
    "location": {"anyOf": [ref("Location"), {"type": "null"}], "description": "The nearest location."},
    "specialties": array(ref("ListingSpecialty")),
    "networks": array(ref("NetworkRef")),
    "accepting_new_patients": t("boolean"),
    "telehealth": t("boolean"),
    "languages": array(t("string")),
    "last_verified": DATE,
    "stale": t("boolean", description="Never verified, or verified more than 90 days ago."),
    "demo": t("boolean", description="Synthetic demonstration data, not a real provider."),
}
DETAIL = {k: v for k, v in SUMMARY.items() if k != "distance_mi"} | {
    "networks": array(ref("Network")),
    "active": t("boolean"),
    "services": array(t("string")),
    "website": t("string", True),
    "locations": array(obj(LOCATION | {
        "hours": {"type": "object"},
        "wheelchair_accessible": t("boolean"),
        "geo_source": t("string", enum=list(GEO_SOURCES)),
    })),
    "verification": obj({
        "last_verified": DATE,
        "method": t("string", True, enum=[*VERIFICATION_METHODS, None]),
        "source": t("string"),
    }),
    "organization": obj({
        "type": t("string"),
        "ivig_products": array(t("string")),
        "chairs": t("integer", True, minimum=0),
        "pediatric": t("boolean"),
        "prior_auth_help": t("boolean"),
    }),
    "practitioners": array(obj({"id": t("integer"), "name": t("string"), "location_id": t("integer")})),
    "practitioner": obj({
        "first_name": t("string"),
        "last_name": t("string"),
        "credentials": t("string", True),
        "gender": t("string", True, enum=["F", "M", "X", None]),
    }),
    "roles": array(obj({
        "organization_id": t("integer", True),
        "organization_name": t("string", True),
        "location_id": t("integer"),
        "specialty": t("string", True),
        "accepting_new_patients": t("boolean"),
        "telehealth": t("boolean"),
    })),
}
KIND_ONLY = ("organization", "practitioners", "practitioner", "roles")

SCHEMAS = {
    "Error": obj({"error": obj({
        "code": t("string", description="Machine-readable, e.g. invalid_parameter, unknown_zip, not_found, "
                  "gone, method_not_allowed, request_too_large, index_unavailable."),
        "message": t("string", description="Human-readable; says what is allowed."),
        "field": t("string", True, description="The parameter at fault, when there is one."),
    })}),
    "Location": obj(LOCATION),
    "ListingSpecialty": obj({"code": t("string"), "display": t("string"), "primary": t("boolean")}),
    "Specialty": obj({"code": t("string"), "display": t("string"), "group": t("string")}),
    "NetworkRef": obj({"id": t("integer"), "name": t("string")}),
    "Network": obj({"id": t("integer"), "name": t("string"), "payer": t("string"), "plan_type": t("string")}),
    "SearchResult": obj(SUMMARY, optional=("distance_mi",)),
    "Facets": obj(
        {name: counts() for name in ("specialty", "network", "kind", "accepting")},
        optional=("specialty", "network", "kind", "accepting"),
    )
    | {"description": "Counts over every match (not only this page), value -> number of listings."},
    "SearchResponse": obj({
        "total": t("integer", minimum=0),
        "page": t("integer", minimum=1),
        "per_page": t("integer", minimum=1, maximum=MAX_PER_PAGE),
        "results": array(ref("SearchResult")),
        "facets": ref("Facets"),
    }),
    "ProviderDetail": obj(DETAIL, optional=KIND_ONLY)
    | {"description": "Organizations add organization and practitioners; practitioners add practitioner "
                      "and roles."},
    "ZipPlace": obj({
        "zip": t("string", pattern=r"^\d{5}$"),
        "city": t("string"),
        "state": t("string"),
        "lat": t("number"),
        "lon": t("number"),
    }),
    "SpecialtyList": obj({"results": array(ref("Specialty"))}),
    "NetworkList": obj({"results": array(ref("Network"))}),
    "Health": obj({"status": t("string", const="ok"), "search_backend": t("string")}),
}


def param(name: str, schema: dict, description: str, where: str = "query", **extra) -> dict:
    out = {"name": name, "in": where, "description": description, "schema": schema, **extra}
    if where == "path":
        out["required"] = True
    return out


def repeated(name: str, items: dict, description: str) -> dict:
    return param(name, array(items) | {"maxItems": 50}, description + " Repeat the parameter, or separate "
                 "values with commas; matches listings having any of them.", style="form", explode=True)


def flag(name: str, description: str) -> dict:
    words = "/".join(TRUE_WORDS)
    return param(name, t("boolean"), f"{description} Spellings {words} (any case); false means no filter.")


def search_parameters() -> list[dict]:
    return [
        param("zip", t("string", pattern=ZIP_PATTERN.pattern), "5-digit ZIP or ZIP+4 to search around; "
              "400 if malformed or not an active US ZIP. Not together with lat/lon."),
        param("lat", t("number", minimum=-90, maximum=90), "Latitude of the place; needs lon."),
        param("lon", t("number", minimum=-180, maximum=180), "Longitude of the place; needs lat."),
        param("radius", t("number", minimum=1, maximum=MAX_RADIUS_MI, default=DEFAULT_RADIUS_MI),
              "Miles around the place; needs zip or lat/lon."),
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
              "gives no results."),
        param("per_page", t("integer", minimum=1, maximum=MAX_PER_PAGE, default=20), "Results per page."),
    ]


def ok(schema: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


BAD = {"400": ok("Error", "A parameter is invalid; `field` names it.")}
MISSING = {"404": ok("Error", "Not found.")}
GONE = {"410": ok("Error", "The listing was removed from the directory (deactivated); `field` is id. "
                           "An id that was never a listing is 404.")}
REBUILDING = {"503": ok("Error", "The search index cannot be opened (e.g. it is being rebuilt).")}
ANY_PATH = {
    "405": ok("Error", "Another method than GET (the API is read-only).")
    | {"headers": {"Allow": {"description": "The methods this path answers.", "schema": t("string")}}},
    "413": ok("Error", "The request body is larger than the server's limit (MAX_CONTENT_LENGTH, 1 MB by "
                       "default); code request_too_large."),
}


def get(op_id: str, summary: str, responses: dict, parameters: list | None = None) -> dict:
    """A GET operation; every path also answers 405 to other methods and 413 to a large body."""
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
                "200": ok("SearchResponse", "One page of results within the radius."), **BAD, **REBUILDING,
            }, search_parameters()),
            "/api/v1/providers/{id}": get("getProvider", "One listing with every location and role", {
                "200": ok("ProviderDetail", "The listing."), **MISSING, **GONE,
            }, [param("id", t("integer", minimum=0, maximum=MAX_ID),
                      "Listing id; any number that is not a listing's id is 404.", "path")]),
            "/api/v1/specialties": get("listSpecialties", "NUCC specialties that can be searched", {
                "200": ok("SpecialtyList", "Every specialty, in taxonomy order."),
            }),
            "/api/v1/networks": get("listNetworks", "Payer networks", {
                "200": ok("NetworkList", "Every network, by payer then name."),
            }),
            "/api/v1/zip/{zip}": get("lookupZip", "Centroid of a ZIP code", {
                "200": ok("ZipPlace", "The ZIP's city, state and centroid."), **MISSING,
            }, [param("zip", t("string"), "5-digit ZIP or ZIP+4; anything else is 404.", "path")]),
            "/healthz": get("health", "Database and search index check",
                            {"200": ok("Health", "Healthy."), **REBUILDING}),
            "/api/v1/openapi.json": get("openapi", "This document", {
                "200": {"description": "OpenAPI 3.1 document.",
                        "content": {"application/json": {"schema": {"type": "object"}}}},
            }),
        },
        "components": {"schemas": SCHEMAS},
    }
