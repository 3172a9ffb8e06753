"""The OpenAPI document is valid, covers exactly the API's routes, and describes real responses."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from directory.web.openapi import openapi_document

DOC_URI = "urn:ivig-directory:openapi"
SEARCH_PARAMETERS = {
    "place",
    "zip",
    "lat",
    "lon",
    "radius",
    "q",
    "specialty",
    "network",
    "kind",
    "accepting",
    "telehealth",
    "language",
    "service",
    "sort",
    "page",
    "per_page",
}


def normalized(path: str) -> str:
    """'/api/v1/providers/<int:lid>' and '/api/v1/providers/{id}' both become '/api/v1/providers/{}'."""
    return re.sub(r"\{[^}]+\}", "{}", re.sub(r"<[^>]+>", "{}", path))


def api_routes(app) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or rule.rule == "/healthz":
            methods = {m.lower() for m in rule.methods} - {"head", "options"}
            routes.setdefault(normalized(rule.rule), set()).update(methods)
    return routes


def response_validator(path: str, status: int) -> Draft202012Validator:
    """A JSON Schema validator for the documented response body of GET `path` with `status`."""
    doc = openapi_document()
    responses = doc["paths"][path]["get"]["responses"]
    assert str(status) in responses, f"{status} is not documented for {path}"
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    registry = Registry().with_resource(
        DOC_URI, Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    if "$ref" in schema:
        schema = {"$ref": DOC_URI + schema["$ref"]}
    else:
        schema = {"$id": DOC_URI, **schema}
    return Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())


def check(response, path: str) -> dict:
    """Assert the response body matches the schema documented for (path, status); return the body."""
    body = response.get_json()
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in response_validator(path, response.status_code).iter_errors(body)
    ]
    assert not errors, errors
    return body


def test_document_is_valid_openapi_3_1():
    doc = openapi_document()
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_document_is_built_once_and_served_as_is(client):
    assert openapi_document() is openapi_document()
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == openapi_document()


def test_every_api_route_is_documented_and_nothing_else(app):
    routes = api_routes(app)
    documented = {
        normalized(path): {method for method in item if method in {"get", "post", "put", "patch", "delete"}}
        for path, item in openapi_document()["paths"].items()
    }
    assert documented == routes


def test_search_documents_every_parameter_of_the_design():
    params = openapi_document()["paths"]["/api/v1/search"]["get"]["parameters"]
    by_name = {p["name"]: p for p in params}
    assert set(by_name) == SEARCH_PARAMETERS
    for name in ("specialty", "network", "language", "service"):
        assert by_name[name]["schema"]["type"] == "array"
        assert (by_name[name]["style"], by_name[name]["explode"]) == ("form", True)
    assert by_name["radius"]["schema"].items() >= {"minimum": 1, "maximum": 500, "default": 25}.items()
    assert by_name["per_page"]["schema"].items() >= {"minimum": 1, "maximum": 100, "default": 20}.items()
    assert by_name["page"]["schema"]["minimum"] == 1
    assert by_name["q"]["schema"]["maxLength"] == 200
    assert set(by_name["kind"]["schema"]["enum"]) == {"organization", "practitioner"}
    assert set(by_name["sort"]["schema"]["enum"]) == {"distance", "relevance", "name"}
    assert len(by_name["specialty"]["schema"]["items"]["enum"]) >= 40


def test_required_component_schemas_exist():
    schemas = openapi_document()["components"]["schemas"]
    for name in (
        "Error",
        "SearchResponse",
        "SearchResult",
        "Location",
        "Specialty",
        "NetworkRef",
        "Network",
        "ProviderDetail",
        "ZipPlace",
        "Facets",
    ):
        assert name in schemas


@pytest.fixture
def listings(factory):
    network = factory.network()
    org = factory.listing(networks=[network.id], accepting_new_patients=True, services=["ivig"])
    prac = factory.listing(kind="practitioner", name="Ada Lovelace MD", zip="02116", languages=["en", "es"])
    far = factory.listing(name="Cambridge Infusion", zip="02139", telehealth=True)
    return org, prac, far


def test_search_responses_match_the_schema(client, listings):
    with_place = check(client.get("/api/v1/search?zip=02115&radius=20"), "/api/v1/search")
    assert with_place["total"] == 3
    assert all("distance_mi" in r for r in with_place["results"])
    assert any(r["networks"] for r in with_place["results"])
    assert with_place["facets"]
    without_place = check(client.get("/api/v1/search?q=infusion&sort=name"), "/api/v1/search")
    assert without_place["total"] >= 2
    assert all("distance_mi" not in r for r in without_place["results"])


def test_provider_detail_matches_the_schema(client, listings):
    org, prac, _ = listings
    body = check(client.get(f"/api/v1/providers/{org.id}"), "/api/v1/providers/{id}")
    assert body["id"] == org.id and "organization" in body and body["networks"]
    body = check(client.get(f"/api/v1/providers/{prac.id}"), "/api/v1/providers/{id}")
    assert body["id"] == prac.id and "practitioner" in body
    check(client.get("/api/v1/providers/999999"), "/api/v1/providers/{id}")


def test_list_zip_and_health_responses_match_the_schema(client, factory):
    factory.network()
    assert len(check(client.get("/api/v1/specialties"), "/api/v1/specialties")["results"]) >= 40
    assert len(check(client.get("/api/v1/networks"), "/api/v1/networks")["results"]) == 1
    assert check(client.get("/api/v1/zip/02115"), "/api/v1/zip/{zip}")["state"] == "MA"
    check(client.get("/api/v1/zip/99999"), "/api/v1/zip/{zip}")
    assert check(client.get("/healthz"), "/healthz")["status"] == "ok"
    check(client.get("/api/v1/openapi.json"), "/api/v1/openapi.json")


def test_a_400_error_matches_the_schema(client):
    response = client.get("/api/v1/search?radius=0&zip=02115")
    assert response.status_code == 400
    assert check(response, "/api/v1/search")["error"]["field"] == "radius"


def test_schemas_are_strict_enough_to_catch_drift():
    """A validator that accepted anything would make the tests above vacuous."""
    validator = response_validator("/api/v1/search", 200)
    assert not validator.is_valid(
        {"total": 0, "page": 1, "per_page": 20, "results": [], "facets": {}, "extra": 1}
    )
    assert not validator.is_valid(
        {"total": 0, "page": 1, "per_page": 20, "results": [{"id": 1}], "facets": {}}
    )
    assert validator.is_valid({"total": 0, "page": 1, "per_page": 20, "results": [], "facets": {}})


# Every status each operation can answer; 405 (another method), 413 (a body over the limit) and 500
# (an internal error, with an incident id) apply to every path, 503 wherever the search index is
# opened, 429 where deep pages are rate-limited.
STATUSES = {
    "/api/v1/search": {"200", "400", "405", "413", "429", "500", "503"},
    "/api/v1/providers/{id}": {"200", "404", "405", "410", "413", "500"},
    "/api/v1/specialties": {"200", "405", "413", "500"},
    "/api/v1/networks": {"200", "405", "413", "500"},
    "/api/v1/zip/{zip}": {"200", "404", "405", "413", "500"},
    "/healthz": {"200", "405", "413", "500", "503"},
    "/api/v1/openapi.json": {"200", "405", "413", "500"},
}


def test_every_operation_lists_the_statuses_it_can_answer():
    paths = openapi_document()["paths"]
    assert set(paths) == set(STATUSES)
    for path, statuses in STATUSES.items():
        responses = paths[path]["get"]["responses"]
        assert set(responses) == statuses, path
        for status in statuses - {"200"}:
            assert responses[status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        assert "Allow" in responses["405"]["headers"], path


def test_error_statuses_are_answered_as_documented(client, factory, session):
    from directory.services.listings import set_active

    gone = factory.listing()
    set_active(session, gone.id, False, actor="test")
    session.commit()
    concrete = {"/api/v1/providers/{id}": f"/api/v1/providers/{gone.id}", "/api/v1/zip/{zip}": "/api/v1/zip/02115"}
    for path in STATUSES:
        url = concrete.get(path, path)
        response = client.post(url)
        check(response, path)
        assert response.status_code == 405 and "GET" in response.headers["Allow"], path
        response = client.get(url, data=b"x" * (1024 * 1024 + 1))
        check(response, path)
        assert response.status_code == 413, path
    for url, path, status in [("/api/v1/search?zip=02115&radius=0", "/api/v1/search", 400),
                              (f"/api/v1/providers/{gone.id}", "/api/v1/providers/{id}", 410),
                              ("/api/v1/providers/999999", "/api/v1/providers/{id}", 404),
                              (f"/api/v1/providers/{2**70}", "/api/v1/providers/{id}", 404),
                              ("/api/v1/zip/99999", "/api/v1/zip/{zip}", 404)]:
        response = client.get(url)
        assert response.status_code == status, url
        assert check(response, path)["error"]["code"]
