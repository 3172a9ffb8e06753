"""The FHIR read API (directory/web/fhir.py) through the Flask test client."""

from __future__ import annotations

import pytest
from fhir.resources.R4B import get_fhir_model_class

from directory.fhir.dispatch import TYPES
from directory.models import Listing

FHIR_JSON = "application/fhir+json; fhirVersion=4.0"


def _valid(body: dict) -> dict:
    get_fhir_model_class(body["resourceType"]).model_validate(body)
    return body


def _issue(response) -> tuple[int, str]:
    body = _valid(response.get_json())
    assert body["resourceType"] == "OperationOutcome"
    return response.status_code, body["issue"][0]["code"]


def test_metadata_is_a_plan_net_capability_statement(client):
    response = client.get("/fhir/metadata")
    assert response.status_code == 200 and response.content_type == FHIR_JSON
    cs = _valid(response.get_json())
    assert cs["fhirVersion"] == "4.0.1" and "json" in cs["format"]
    assert cs["instantiates"] == ["http://hl7.org/fhir/us/davinci-pdex-plan-net/CapabilityStatement/plan-net"]
    resources = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert set(resources) == set(TYPES)
    assert [p.rsplit("/", 1)[-1] for p in resources["Organization"]["supportedProfile"]] == [
        "plannet-Organization", "plannet-Network"]
    assert all({"code": "read"} in r["interaction"] for r in resources.values())
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_every_type_reads_by_id(client, directory_data):
    d = directory_data
    c, p = d["centre"].id, d["doctor"].id
    for path in (f"Practitioner/prac-{p}", f"Organization/org-{c}", "Organization/payer-harbor-health",
                 f"Organization/net-{d['ppo'].id}", f"InsurancePlan/plan-{d['hmo'].id}", f"Location/loc-{d['site'].id}",
                 f"PractitionerRole/role-{d['role'].id}-{d['ppo'].id}", f"HealthcareService/hcs-{c}",
                 f"HealthcareService/hcs-virtual-{p}", f"OrganizationAffiliation/aff-{c}-summit-mutual",
                 f"Endpoint/ep-{c}"):
        response = client.get(f"/fhir/{path}")
        assert response.status_code == 200, path
        body = _valid(response.get_json())
        assert f"{body['resourceType']}/{body['id']}" == path


@pytest.mark.parametrize("path", [
    "Practitioner/prac-999999", "Practitioner/org-1", "Organization/payer-nobody", "Location/loc-99999999999999999999",
    "PractitionerRole/role-1-999", "Endpoint/ep-0", "Practitioner/prac-01", "Organization/net-9223372036854775808",
])
def test_unknown_ids_are_404_not_found(client, directory_data, path):
    assert _issue(client.get(f"/fhir/{path}")) == (404, "not-found")


def test_a_practitioner_is_not_an_organization(client, directory_data):
    assert _issue(client.get(f"/fhir/Organization/org-{directory_data['doctor'].id}")) == (404, "not-found")


def test_a_deactivated_listings_resources_are_gone(client, session, directory_data):
    centre = session.get(Listing, directory_data["centre"].id)
    centre.active = False
    session.commit()
    for path in (f"Organization/org-{centre.id}", f"Location/loc-{directory_data['site'].id}",
                 f"HealthcareService/hcs-{centre.id}"):
        assert _issue(client.get(f"/fhir/{path}")) == (410, "deleted")


def test_unknown_type_and_path(client):
    assert _issue(client.get("/fhir/Patient/1")) == (404, "not-supported")
    assert _issue(client.get("/fhir/Practitioner/prac-1/_history")) == (404, "not-found")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_writes_are_405_with_allow(client, directory_data, method):
    response = getattr(client, method)(f"/fhir/Practitioner/prac-{directory_data['doctor'].id}", json={})
    assert _issue(response) == (405, "not-supported")
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert _issue(getattr(client, method)("/fhir/Practitioner", json={}))[0] == 405


@pytest.mark.parametrize(("headers", "query", "status", "content_type"), [
    ({"Accept": "application/fhir+json; fhirVersion=4.0"}, "", 200, FHIR_JSON),
    ({"Accept": "application/json"}, "", 200, "application/json"),
    ({"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, "", 200, FHIR_JSON),
    ({}, "?_format=json", 200, FHIR_JSON),
    ({}, "?_format=application/fhir%2Bjson", 200, FHIR_JSON),
    ({"Accept": "application/fhir+xml"}, "", 406, FHIR_JSON),
    ({"Accept": "application/fhir+json; fhirVersion=3.0"}, "", 406, FHIR_JSON),
    ({}, "?_format=xml", 406, FHIR_JSON),
])
def test_json_only(client, directory_data, headers, query, status, content_type):
    response = client.get(f"/fhir/Practitioner/prac-{directory_data['doctor'].id}{query}", headers=headers)
    assert (response.status_code, response.content_type) == (status, content_type)
    if status == 406:
        assert response.get_json()["issue"][0]["code"] == "not-supported"


def test_cors_preflight_allows_get_from_anywhere(client):
    response = client.options("/fhir/Practitioner", headers={"Origin": "https://app.example.net",
                                                              "Access-Control-Request-Method": "GET"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response.headers["Access-Control-Allow-Methods"]


def test_requests_are_not_logged_with_the_client_address(client, directory_data, caplog):
    client_address = {"REMOTE_ADDR": "203.0.113.9"}
    with caplog.at_level("DEBUG"):
        client.get(f"/fhir/Practitioner/prac-{directory_data['doctor'].id}", environ_base=client_address)
        client.get("/fhir/Practitioner?_id=prac-999999", environ_base=client_address)
    assert "203.0.113.9" not in caplog.text
