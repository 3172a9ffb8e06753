"""Search beyond single parameters, on a demo directory: near (ordered by distance, the distance on
each entry), the same practitioners as the JSON API's radius search, _content in the Searcher's
order, _include/_revinclude, and paging by fhirpy over the app on loopback."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhirpy import SyncFHIRClient

from directory.fhir import include
from directory.geo import geopy_miles
from tests.fhir import oracle
from tests.fhir.test_search_oracle import _of, fetch_all
from tests.fhir.walking import answers_of, every_page
from tests.loopback import serving

DISTANCE = "http://hl7.org/fhir/StructureDefinition/location-distance"


def _bundle(client, query: str) -> dict:
    response = client.get(f"/fhir/{query}")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    Bundle.model_validate(body)
    return body


def _centre(demo) -> tuple[float, float]:
    locations = _of(demo.resources, "Location")
    position = locations[len(locations) // 2]["position"]
    return position["latitude"], position["longitude"]


def _near(lat: float, lon: float, distance: float, unit: str = "mi") -> str:
    return quote(f"{lat}|{lon}|{distance}|{unit}", safe="")


def _miles(resource: dict, lat: float, lon: float) -> float:
    return geopy_miles((lat, lon), (resource["position"]["latitude"], resource["position"]["longitude"]))


@pytest.mark.parametrize(("distance", "unit", "per_mile"), [(150, "mi", 1.0), (150, "[mi_i]", 1.0),
                                                            (240, "km", 1.609344), (240, "", 1.609344)])
def test_location_near_is_every_location_within_nearest_first(demo, distance, unit, per_mile):
    lat, lon = _centre(demo)
    radius_mi = distance / per_mile
    expected = {r["id"]: _miles(r, lat, lon) for r in _of(demo.resources, "Location")
                if _miles(r, lat, lon) <= radius_mi}
    query = f"near={_near(lat, lon, distance, unit)}" if unit else f"near={quote(f'{lat}|{lon}|{distance}')}"
    bundle = _bundle(demo.client, f"Location?{query}&_count=100")
    entries = bundle["entry"]
    assert bundle["total"] == len(expected) == len(entries) > 3
    assert [e["resource"]["id"] for e in entries] == sorted(
        expected, key=lambda i: (round(expected[i], 6), int(i.split("-")[1])))  # ties: by id
    for entry in entries:
        reported = entry["search"]["extension"][0]
        assert reported["url"] == DISTANCE
        assert reported["valueDistance"]["code"] == ("km" if per_mile > 1 else "[mi_i]")
        assert reported["valueDistance"]["value"] == pytest.approx(expected[entry["resource"]["id"]] * per_mile,
                                                                   abs=0.01)


def test_location_near_pages_follow_the_cursor_in_distance_order(demo):
    """Small pages, cursor after cursor, give the one page's order and distances (ties by id)."""
    lat, lon = _centre(demo)
    whole = _bundle(demo.client, f"Location?near={_near(lat, lon, 150)}&_count=100")
    expected = [(e["resource"]["id"], e["search"]["extension"][0]["valueDistance"]["value"]) for e in whole["entry"]]
    found, url = [], f"/fhir/Location?near={_near(lat, lon, 150)}&_count=3"
    while url:
        bundle = _bundle(demo.client, url.removeprefix("/fhir/"))
        assert bundle["total"] == whole["total"] == len(expected) > 6
        found += [(e["resource"]["id"], e["search"]["extension"][0]["valueDistance"]["value"]) for e in bundle["entry"]]
        url = next((link["url"].split("/fhir", 1)[1] for link in bundle["link"] if link["relation"] == "next"), None)
        url = url and "/fhir" + url
    assert found == expected


@pytest.mark.parametrize("resource_type", ["PractitionerRole", "HealthcareService", "OrganizationAffiliation"])
def test_location_near_orders_by_the_nearest_location(demo, resource_type):
    lat, lon = _centre(demo)
    near = {r["id"]: _miles(r, lat, lon) for r in _of(demo.resources, "Location") if _miles(r, lat, lon) <= 200}
    expected = {}
    for resource in _of(demo.resources, resource_type):
        found = [near[ref["reference"].split("/")[1]] for ref in resource.get("location", [])
                 if ref["reference"].split("/")[1] in near]
        if found:
            expected[resource["id"]] = min(found)
    ids, total = fetch_all(demo.client, resource_type, f"location.near={_near(lat, lon, 200)}")
    assert total == len(expected) > 0 and set(ids) == set(expected)
    distances = [round(expected[i], 6) for i in ids]
    assert distances == sorted(distances)


def _commonest_specialty_and_network(demo) -> tuple[str, str]:
    """The specialty code and the network reference (`Organization/net-N`) most roles of the demo hold."""
    roles = _of(demo.resources, "PractitionerRole")
    specialty = max({c["code"] for r in roles for s in r.get("specialty", []) for c in s["coding"]},
                    key=lambda code: sum(code in str(r.get("specialty")) for r in roles))
    network = max({oracle.values(r, oracle.parameter("PractitionerRole", "network")["expression"])[0]["reference"]
                   for r in roles if r.get("extension")}, key=lambda ref: sum(ref in str(r) for r in roles))
    return specialty, network


def test_near_with_filters_finds_the_practitioners_the_json_api_finds(demo):
    lat, lon = _centre(demo)
    specialty, network = _commonest_specialty_and_network(demo)
    checked = 0
    for radius in (50, 200, 500):
        for filters, api_filters in (("", ""), (f"&specialty={specialty}", f"&specialty={specialty}"),
                                     (f"&network={network}", f"&network={network.split('-')[1]}"),
                                     ("&new-patient=newpt", "&accepting=true"),
                                     (f"&specialty={specialty}&network={network}&new-patient=newpt",
                                      f"&specialty={specialty}&network={network.split('-')[1]}&accepting=true")):
            api = demo.client.get(f"/api/v1/search?lat={lat}&lon={lon}&radius={radius}&kind=practitioner"
                                  f"&per_page=100{api_filters}").get_json()
            wanted = {f"Practitioner/prac-{r['id']}" for r in api["results"]}
            assert api["total"] == len(wanted)
            bundle = _bundle(demo.client, f"PractitionerRole?location.near={_near(lat, lon, radius)}{filters}"
                             "&_count=100")
            found = {e["resource"]["practitioner"]["reference"] for e in bundle.get("entry", [])}
            assert found == wanted, (radius, filters)
            checked += len(found)
    assert checked > 20


def test_roles_near_answer_alike_whether_built_or_placed(demo, monkeypatch):
    """A `location.near` role search whose every test its light roles are built `within` answers
    from the roles' rows and distances alone (search._placed_roles): every page, total and distance
    equals what building and testing each role gives."""
    from directory.fhir import search

    lat, lon = _centre(demo)
    specialty, network = _commonest_specialty_and_network(demo)
    queries = [f"PractitionerRole?location.near={_near(lat, lon, radius)}{filters}&_count=7"
               for radius in (50, 500)
               for filters in ("", f"&specialty={specialty}", f"&network={network}", "&new-patient=newpt",
                               f"&specialty={specialty}&network={network}&new-patient=nopt,newpt",
                               "&_include=PractitionerRole:location")]

    answered = answers_of(monkeypatch, search, "_placed_roles")
    placed = [every_page(demo.client, query) for query in queries]
    assert sum(len(pages) for pages in placed) > len(queries)  # several pages
    assert sum(found is not None for found in answered) == sum(len(pages) for pages in placed)  # all placed
    monkeypatch.setattr(search, "_placed_roles", lambda ctx, criteria: None)
    assert [every_page(demo.client, query) for query in queries] == placed


def test_content_answers_in_the_searchers_order(demo):
    practitioners = _of(demo.resources, "Practitioner")
    family = practitioners[3]["name"][0]["family"]
    typo = family[:-1] + ("x" if family[-1] != "x" else "y")
    api = demo.client.get(f"/api/v1/search?q={quote(typo)}&kind=practitioner&per_page=100&sort=relevance").get_json()
    wanted = [f"prac-{r['id']}" for r in api["results"]]
    bundle = _bundle(demo.client, f"Practitioner?_content={quote(typo)}&_count=100")
    assert [e["resource"]["id"] for e in bundle["entry"]] == wanted and bundle["total"] == len(wanted) > 0


def test_include_adds_each_target_once_outside_the_total(demo):
    bundle = _bundle(demo.client, "PractitionerRole?_include=PractitionerRole:location"
                     "&_include=PractitionerRole:practitioner&_include=PractitionerRole:network&_count=30")
    matches = [e for e in bundle["entry"] if e["search"]["mode"] == "match"]
    extra = [e for e in bundle["entry"] if e["search"]["mode"] == "include"]
    keys = [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]]
    assert len(keys) == len(set(keys)) and len(matches) == 30
    assert bundle["total"] == len(_of(demo.resources, "PractitionerRole"))
    wanted = {ref for e in matches for ref in [e["resource"]["practitioner"]["reference"],
                                                *(r["reference"] for r in e["resource"]["location"])]}
    wanted |= {x["valueReference"]["reference"] for e in matches for x in e["resource"].get("extension", [])
               if x["url"].endswith("/network-reference")}
    assert {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in extra} == wanted
    assert all(demo.resources[f"{e['resource']['resourceType']}/{e['resource']['id']}"] == e["resource"]
               for e in extra)


def test_revinclude_adds_what_refers_to_the_page(demo):
    bundle = _bundle(demo.client, "Location?_revinclude=PractitionerRole:location"
                     "&_revinclude=HealthcareService:location&_count=10")
    page = {f"Location/{e['resource']['id']}" for e in bundle["entry"] if e["search"]["mode"] == "match"}
    extra = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]
             if e["search"]["mode"] == "include"}
    wanted = {f"{r['resourceType']}/{r['id']}" for r in demo.resources.values()
              if r["resourceType"] in ("PractitionerRole", "HealthcareService")
              and {ref["reference"] for ref in r.get("location", [])} & page}
    assert extra == wanted and len(wanted) > 0


def test_include_iterate_follows_the_included(demo):
    bundle = _bundle(demo.client, "OrganizationAffiliation?_count=5&_include=OrganizationAffiliation:network"
                     "&_include:iterate=Organization:partof")
    kinds = {e["resource"]["id"].split("-")[0] for e in bundle["entry"] if e["search"]["mode"] == "include"}
    assert kinds == {"net", "payer"}


def test_at_most_500_included_then_an_outcome(demo, monkeypatch):
    monkeypatch.setattr(include, "MAX_INCLUDED", 7)
    bundle = _bundle(demo.client, "PractitionerRole?_include=PractitionerRole:location"
                     "&_include=PractitionerRole:practitioner&_count=20")
    modes = [e["search"]["mode"] for e in bundle["entry"]]
    assert modes.count("include") == 7 and modes[-1] == "outcome"
    assert bundle["entry"][-1]["resource"]["issue"][0]["code"] == "incomplete"


@pytest.fixture(scope="module")
def fhir_url(demo):
    with serving(demo.app) as base:  # the app keeps /fhir requests out of the server's access log
        yield f"{base}/fhir"


@pytest.mark.parametrize(("resource_type", "params"), [
    ("Location", {"_lastUpdated": "ge2025"}),
    ("PractitionerRole", {"new-patient": "newpt"}),
    ("Organization", {}),
    ("Location", "near"),
])
def test_fhirpy_fetches_every_page_once(demo, fhir_url, resource_type, params):
    client = SyncFHIRClient(fhir_url, extra_headers={"Accept": "application/fhir+json"})
    if params == "near":
        lat, lon = _centre(demo)
        params = {"near": f"{lat}|{lon}|400|mi"}
    fetched = [r["id"] for r in client.resources(resource_type).search(**params).limit(7).fetch_all()]
    expected, total = fetch_all(demo.client, resource_type, "&".join(f"{k}={quote(v)}" for k, v in params.items()))
    assert fetched == expected and len(set(fetched)) == total == len(fetched) > 7
