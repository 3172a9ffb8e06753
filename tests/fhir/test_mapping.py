"""The Plan-Net mapping (directory/fhir/): ids, codes and the rules of issue 14 on a known directory."""

from __future__ import annotations

from datetime import date

from directory.fhir import ids
from directory.fhir.codes import EXTENSION, NPI_SYSTEM, SYSTEM, Canonicals
from directory.fhir.mapping import listing_resources, resources_of_type
from directory.fhir.records import load_listings
from tests.fhir.conftest import all_resources


def _ext(resource: dict, url: str) -> list[dict]:
    return [e for e in resource.get("extension", []) if e["url"] == url]


def _codes(concepts: list[dict]) -> list[str]:
    return [c["code"] for concept in concepts for c in concept["coding"]]


def test_every_row_becomes_resources_with_the_issues_ids(session, directory_data):
    d = directory_data
    found = all_resources(session)
    c, p, r = d["centre"].id, d["doctor"].id, d["role"].id
    for key in (f"Organization/org-{c}", f"Practitioner/prac-{p}", f"Location/loc-{d['site'].id}",
                f"HealthcareService/hcs-{c}", f"HealthcareService/hcs-virtual-{p}", f"Endpoint/ep-{c}",
                f"PractitionerRole/role-{r}-{d['ppo'].id}", f"OrganizationAffiliation/aff-{c}-harbor-health",
                f"OrganizationAffiliation/aff-{c}-summit-mutual", "Organization/payer-harbor-health",
                f"Organization/net-{d['hmo'].id}", f"InsurancePlan/plan-{d['medigap'].id}"):
        assert key in found, key
    assert all(ids.ID_PATTERN.fullmatch(resource["id"]) for resource in found.values())


def test_practitioner_has_npi_name_with_credentials_and_bcp47_languages(session, directory_data):
    prac = all_resources(session)[f"Practitioner/prac-{directory_data['doctor'].id}"]
    assert prac["identifier"][0]["system"] == NPI_SYSTEM
    assert prac["identifier"][0]["value"] == directory_data["doctor"].npi
    assert prac["name"][0]["family"] == "Lovelace" and prac["name"][0]["suffix"] == ["MD"]
    assert [c["coding"][0] for c in prac["communication"]] == [
        {"system": "urn:ietf:bcp:47", "code": "en", "display": "English"},
        {"system": "urn:ietf:bcp:47", "code": "es", "display": "Spanish"}]
    assert prac["active"] is True and prac["meta"]["profile"][0].endswith("/plannet-Practitioner")


def test_organization_is_a_facility_with_every_sites_address(session, directory_data):
    org = all_resources(session)[f"Organization/org-{directory_data['centre'].id}"]
    assert _codes(org["type"]) == ["fac"]
    assert sorted(a["postalCode"] for a in org["address"]) == ["02115", "02139"]
    assert org["endpoint"] == [{"reference": f"Endpoint/ep-{directory_data['centre'].id}"}]


def test_networks_payers_and_plans(session, directory_data):
    d = directory_data
    found = all_resources(session)
    net = found[f"Organization/net-{d['ppo'].id}"]
    assert _codes(net["type"]) == ["ntwk"] and net["partOf"]["reference"] == "Organization/payer-harbor-health"
    payer = found["Organization/payer-harbor-health"]
    assert _codes(payer["type"]) == ["payer"]
    assert payer["address"][0]["extension"][0]["valueCode"] == "unknown"
    ppo, medigap = found[f"InsurancePlan/plan-{d['ppo'].id}"], found[f"InsurancePlan/plan-{d['medigap'].id}"]
    assert ppo["type"][0]["coding"][0] == {"system": SYSTEM["InsuranceProductTypeCS"], "code": "commppo",
                                           "display": "Commercial PPO"}
    assert medigap["type"][0]["coding"][0]["system"] == Canonicals().plan_type_system
    assert ppo["ownedBy"] == ppo["administeredBy"] == {"reference": "Organization/payer-harbor-health",
                                                       "display": "Harbor Health"}


def test_role_per_network_with_new_patients_from_it_and_the_orgs_phone(session, directory_data):
    d = directory_data
    role = all_resources(session)[f"PractitionerRole/role-{d['role'].id}-{d['ppo'].id}"]
    network = {"reference": f"Organization/net-{d['ppo'].id}", "display": "Harbor Select PPO"}
    [accepting] = _ext(role, EXTENSION["newpatients"])
    assert accepting["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "newpt"
    assert accepting["extension"][1] == {"url": "fromNetwork", "valueReference": network}
    assert _ext(role, EXTENSION["network-reference"]) == [{"url": EXTENSION["network-reference"],
                                                           "valueReference": network}]
    assert _codes(role["code"]) == ["ph"] and _codes(role["specialty"]) == ["207RR0500X"]
    assert role["organization"]["reference"] == f"Organization/org-{d['centre'].id}"
    phone = role["telecom"][0]
    assert phone["extension"][0]["url"] == EXTENSION["via-intermediary"]
    assert phone["extension"][0]["valueReference"]["reference"] == f"Organization/org-{d['centre'].id}"


def test_location_position_hours_and_accessibility(session, directory_data):
    loc = all_resources(session)[f"Location/loc-{directory_data['site'].id}"]
    assert set(loc["position"]) == {"latitude", "longitude"}
    assert loc["managingOrganization"]["reference"] == f"Organization/org-{directory_data['centre'].id}"
    assert loc["telecom"][0] == {"system": "phone", "value": "(617) 555-0100", "use": "work"}
    [accepting] = _ext(loc, EXTENSION["newpatients"])
    assert accepting["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "newpt"


def test_last_verified_extension_and_last_updated(session, directory_data):
    from directory.models import Listing

    listing = session.get(Listing, directory_data["centre"].id)
    listing.last_verified = date(2026, 11, 2)
    session.commit()
    org = all_resources(session)[f"Organization/org-{listing.id}"]
    assert _ext(org, Canonicals().last_verified) == [{"url": Canonicals().last_verified, "valueDate": "2026-11-02"}]
    assert org["meta"]["lastUpdated"].endswith("Z")
    base = Canonicals("https://directory.example.net/fhir")
    assert _ext(all_resources(session, base)[f"Organization/org-{listing.id}"], base.last_verified)


def test_endpoint_is_the_website_rest_non_fhir(session, directory_data):
    ep = all_resources(session)[f"Endpoint/ep-{directory_data['centre'].id}"]
    assert ep["address"] == "https://example.org/fenway"
    assert ep["connectionType"]["code"] == "rest-non-fhir" and _codes(ep["payloadType"]) == ["NA"]


def test_long_payer_names_keep_ids_short_and_distinct():
    first = ids.affiliation(2**63 - 1, "The Very Long Name of a Regional Health Insurance Company, North")
    second = ids.affiliation(2**63 - 1, "The Very Long Name of a Regional Health Insurance Company, South")
    assert first != second and all(ids.ID_PATTERN.fullmatch(i) for i in (first, second))
    assert ids.parse("OrganizationAffiliation", first) is not None


def test_one_type_maps_as_the_whole_listing_does(session, directory_data):
    canon = Canonicals()
    for record in load_listings(session, [directory_data["centre"].id, directory_data["doctor"].id]):
        everything = listing_resources(record, canon)
        for kind in {r["resourceType"] for r in everything} | {"InsurancePlan"}:
            assert resources_of_type(record, kind, canon) == [r for r in everything if r["resourceType"] == kind]
