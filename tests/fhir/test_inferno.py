"""Inferno's Plan-Net searches that go beyond one parameter, reproduced (Inferno itself needs Ruby
gems, Docker and tx.fhir.org): every _include and _revinclude of the CapabilityStatement with
`_id`, and the two combination searches, against the oracle."""

from __future__ import annotations

import pytest

from tests.fhir import oracle
from tests.fhir.conftest import plan_net
from tests.fhir.test_search_oracle import _of, fetch_all

CS = plan_net("CapabilityStatement-plan-net")["rest"][0]["resource"]
INCLUDES = [(r["type"], text) for r in CS for text in r.get("searchInclude", [])]
REVINCLUDES = [(r["type"], text) for r in CS for text in r.get("searchRevInclude", [])]


def _refs(resource: dict, resource_type: str, name: str) -> set[str]:
    expression = oracle.parameter(resource_type, name)["expression"]
    return {v["reference"] for v in oracle.values(resource, expression) if isinstance(v, dict) and "reference" in v}


def _included(demo, query: str) -> tuple[set[str], set[str]]:
    bundle = demo.client.get(f"/fhir/{query}").get_json()
    assert bundle.get("resourceType") == "Bundle", bundle
    keys = {mode: {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle.get("entry", [])
                   if e["search"]["mode"] == mode} for mode in ("match", "include")}
    return keys["match"], keys["include"]


@pytest.mark.parametrize(("resource_type", "inclusion"), INCLUDES)
def test_include_with_id(demo, resource_type, inclusion):
    _, name = inclusion.split(":")
    having = [r for r in _of(demo.resources, resource_type) if _refs(r, resource_type, name)]
    chosen = having[len(having) // 2] if having else _of(demo.resources, resource_type)[0]
    matched, included = _included(demo, f"{resource_type}?_id={chosen['id']}&_include={inclusion}")
    assert matched == {f"{resource_type}/{chosen['id']}"}
    assert included == _refs(chosen, resource_type, name) - matched


@pytest.mark.parametrize(("resource_type", "inclusion"), REVINCLUDES)
def test_revinclude_with_id(demo, resource_type, inclusion):
    source, name = inclusion.split(":")
    referred = {ref for r in _of(demo.resources, source) for ref in _refs(r, source, name)
                if ref.startswith(resource_type + "/")}
    first = f"{resource_type}/{_of(demo.resources, resource_type)[0]['id']}"
    chosen = sorted(referred)[len(referred) // 2] if referred else first
    matched, included = _included(demo, f"{resource_type}?_id={chosen.split('/')[1]}&_revinclude={inclusion}")
    assert matched == {chosen}
    assert included == {f"{source}/{r['id']}" for r in _of(demo.resources, source) if chosen in _refs(r, source, name)}


def test_specialty_covered_by_network(demo):
    """HealthcareService?specialty=X&_has:OrganizationAffiliation:service:network=N."""
    affiliation = next(r for r in _of(demo.resources, "OrganizationAffiliation") if r.get("specialty"))
    network = affiliation["network"][0]["reference"]
    specialty = affiliation["specialty"][0]["coding"][0]["code"]
    covered = {ref.split("/")[1] for r in _of(demo.resources, "OrganizationAffiliation")
               if network in _refs(r, "OrganizationAffiliation", "network")
               for ref in _refs(r, "OrganizationAffiliation", "service")}
    expected = covered & oracle.search(demo.resources, "HealthcareService", "specialty", specialty)
    ids, total = fetch_all(demo.client, "HealthcareService",
                           f"specialty={specialty}&_has:OrganizationAffiliation:service:network={network}")
    assert set(ids) == expected and total == len(expected) > 0


def test_practitioners_with_specialty_and_location(demo):
    """PractitionerRole?specialty=X&location=L&_include=PractitionerRole:practitioner."""
    role = next(r for r in _of(demo.resources, "PractitionerRole") if r.get("specialty"))
    specialty, location = role["specialty"][0]["coding"][0]["code"], role["location"][0]["reference"]
    expected = (oracle.search(demo.resources, "PractitionerRole", "specialty", specialty)
                & oracle.search(demo.resources, "PractitionerRole", "location", location))
    matched, included = _included(demo, f"PractitionerRole?specialty={specialty}&location={location}"
                                  "&_include=PractitionerRole:practitioner&_count=100")
    assert matched == {f"PractitionerRole/{i}" for i in expected} and expected
    assert included == {demo.resources[f"PractitionerRole/{i}"]["practitioner"]["reference"] for i in expected}
