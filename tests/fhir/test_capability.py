"""The CapabilityStatement lists every search of Plan-Net's own, with its definition, and our extras,
whose SearchParameter resources the server serves."""

from __future__ import annotations

from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.searchparameter import SearchParameter

from tests.fhir.conftest import plan_net

OURS = {("Location", "near"), ("PractitionerRole", "location.near"), ("HealthcareService", "location.near"),
        ("OrganizationAffiliation", "location.near"), ("PractitionerRole", "new-patient"),
        ("Location", "new-patient"), ("HealthcareService", "new-patient"), ("Practitioner", "communication")}


def _resources(cs: dict) -> dict[str, dict]:
    return {r["type"]: r for r in cs["rest"][0]["resource"]}


def test_every_plan_net_search_is_listed_with_its_definition(client):
    ours = _resources(CapabilityStatement.model_validate(client.get("/fhir/metadata").get_json()).model_dump(
        mode="json"))
    for theirs in plan_net("CapabilityStatement-plan-net")["rest"][0]["resource"]:
        listed = ours[theirs["type"]]
        assert {"code": "search-type"} in listed["interaction"]
        definitions = {p["name"]: p["definition"] for p in listed["searchParam"]}
        for param in theirs["searchParam"]:
            assert definitions[param["name"]].rsplit("/", 1)[1] == param["definition"].rsplit("/", 1)[1]
        assert set(theirs.get("searchInclude", [])) <= set(listed.get("searchInclude", []))
        assert set(theirs.get("searchRevInclude", [])) <= set(listed.get("searchRevInclude", []))
    assert ours["HealthcareService"]["searchParam"][8]["definition"].endswith("healthcareservice-delivery-method")


def test_our_extras_are_search_parameters_the_server_serves(client):
    listed = _resources(client.get("/fhir/metadata").get_json())
    base = "https://ivig-directory.example.org/fhir/SearchParameter/"
    found = set()
    for resource_type, resource in listed.items():
        for param in resource.get("searchParam", []):
            if not param["definition"].startswith(base):
                continue
            response = client.get("/fhir/SearchParameter/" + param["definition"][len(base):])
            assert response.status_code == 200
            definition = SearchParameter.model_validate(response.get_json())
            assert definition.url == param["definition"] and definition.code == param["name"]
            assert resource_type in definition.base and definition.description
            found.add((resource_type, param["name"]))
    assert found == OURS | {(t, "_content") for t in listed if t != "SearchParameter"}
    assert client.get("/fhir/SearchParameter/nope").status_code == 404
    assert client.get("/fhir/SearchParameter?code=near").status_code == 400
