"""Structured filters, facets, sort orders and text matching, through the JSON API."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from sqlmodel import Session

from directory.db import get_engine
from directory.geo import lookup_zip
from directory.search import rebuild_index
from directory.search.ordering import name_key
from directory.search.text import fuzzy_distance
from tests.backends import close_app, make_app
from tests.factories import Factory

ORG_CODES = ["261QI0500X", "3336H0001X", "251F00000X", "282N00000X", "261QM1300X"]
PRAC_CODES = ["207RR0500X", "2084N0400X", "207K00000X", "207RH0000X", "207N00000X"]
SERVICES = ["ivig", "scig", "home_infusion", "plasma_exchange", "prior_authorization"]
LANGS = ["en", "es", "zh", "vi", "ht"]
ZIPS = ["02115", "02116", "02138", "02139", "02215", "01608", "02903", "10001"]
NAMES = ["Beacon", "Charles River", "Back Bay", "beacon", "Harbor", "Emerald", "Longwood", "Mystic"]
LAST_NAMES = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak"]

# -- helpers ---------------------------------------------------------------------------------------


def get(client, **params) -> dict:
    response = client.get("/api/v1/search", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def fetch_all(client, **params) -> tuple[dict, list[dict]]:
    """(first page body, every result over all pages at per_page=100)."""
    first = get(client, page=1, per_page=100, **params)
    results = list(first["results"])
    page = 1
    while len(results) < first["total"]:
        page += 1
        body = get(client, page=page, per_page=100, **params)
        assert body["results"], "a page came back empty before the total was reached"
        results.extend(body["results"])
    assert len(results) == first["total"]
    assert len({r["id"] for r in results}) == len(results)
    return first, results


def ids(client, **params) -> list[int]:
    return [r["id"] for r in fetch_all(client, **params)[1]]


# -- a module-wide data set for filters and facets -------------------------------------------------


class World:
    def __init__(self, app, client):
        self.app = app
        self.client = client
        self.listings: dict[int, dict] = {}
        self.networks: list[int] = []

    def expect(self, pred, place: tuple[str, float] | None = None) -> set[int]:
        out = set()
        for lid, spec in self.listings.items():
            if place is not None:
                from geopy.distance import great_circle

                centre = lookup_zip(place[0])
                here = lookup_zip(spec["zip"])
                if great_circle((centre.lat, centre.lon), (here.lat, here.lon)).miles > place[1]:
                    continue
            if pred(spec):
                out.add(lid)
        return out


@pytest.fixture(scope="module")
def world(backend, tmp_path_factory, request):
    server = request.getfixturevalue("postgres_server") if backend == "postgres" else None
    app = make_app(backend, tmp_path_factory.mktemp("filters"), server)
    session = Session(get_engine(app), expire_on_commit=False)
    factory = Factory(app, session)
    w = World(app, app.test_client())
    w.networks = [
        factory.network(name=f"Plan {i}", payer=f"Payer {i}", plan_type=t).id
        for i, t in enumerate(["PPO", "HMO", "EPO", "POS"])
    ]
    rng = random.Random(1234)
    for i in range(90):
        kind = "practitioner" if rng.random() < 0.45 else "organization"
        codes = rng.sample(PRAC_CODES if kind == "practitioner" else ORG_CODES, rng.choice([1, 1, 2]))
        spec = {
            "kind": kind,
            "name": f"{rng.choice(NAMES)} {'Associates' if kind == 'practitioner' else 'Infusion'}",
            "zip": rng.choice(ZIPS),
            "specialties": codes,
            "networks": rng.sample(w.networks, rng.choice([0, 1, 1, 2, 3])),
            "accepting_new_patients": rng.random() < 0.5,
            "telehealth": rng.random() < 0.3,
            "languages": ["en"] + rng.sample(LANGS[1:], rng.choice([0, 0, 1, 2])),
            "services": rng.sample(SERVICES, rng.choice([0, 1, 2])),
        }
        extra = {}
        if kind == "practitioner":
            extra = {"first_name": "Sam", "last_name": rng.choice(LAST_NAMES)}
        listing = factory.listing(sync=False, **spec, **extra)
        w.listings[listing.id] = spec
        if i == 59:
            # The first two thirds go into the snapshot; the rest stay in the overlay.
            factory.sync()
            rebuild_index(app)
    factory.sync()
    yield w
    session.close()
    close_app(app)


def name_order(results: list[dict]) -> list[tuple]:
    return [(name_key(r["name"]), r["id"]) for r in results]


FILTER_CASES = [
    ("specialty", lambda w: {"specialty": "207RR0500X,261QI0500X"},
     lambda w: lambda s: bool({"207RR0500X", "261QI0500X"} & set(s["specialties"]))),
    ("specialty-lowercase", lambda w: {"specialty": "2084n0400x,3336h0001x"},
     lambda w: lambda s: bool({"2084N0400X", "3336H0001X"} & set(s["specialties"]))),
    ("network", lambda w: {"network": f"{w.networks[0]},{w.networks[2]}"},
     lambda w: lambda s: bool({w.networks[0], w.networks[2]} & set(s["networks"]))),
    ("kind-org", lambda w: {"kind": "organization"}, lambda w: lambda s: s["kind"] == "organization"),
    ("kind-prac", lambda w: {"kind": "practitioner"}, lambda w: lambda s: s["kind"] == "practitioner"),
    ("accepting", lambda w: {"accepting": "true"}, lambda w: lambda s: s["accepting_new_patients"]),
    ("accepting-false-is-no-filter", lambda w: {"accepting": "false"}, lambda w: lambda s: True),
    ("telehealth", lambda w: {"telehealth": "true"}, lambda w: lambda s: s["telehealth"]),
    ("language", lambda w: {"language": "es"}, lambda w: lambda s: "es" in s["languages"]),
    ("languages-any", lambda w: {"language": "zh,HT"},
     lambda w: lambda s: bool({"zh", "ht"} & set(s["languages"]))),
    ("service", lambda w: {"service": "scig"}, lambda w: lambda s: "scig" in s["services"]),
    ("services-any", lambda w: {"service": "ivig,plasma_exchange"},
     lambda w: lambda s: bool({"ivig", "plasma_exchange"} & set(s["services"]))),
    ("combined",
     lambda w: {"specialty": "207RR0500X,2084N0400X,207K00000X", "network": str(w.networks[1]),
                "accepting": "true", "kind": "practitioner"},
     lambda w: lambda s: bool({"207RR0500X", "2084N0400X", "207K00000X"} & set(s["specialties"]))
     and w.networks[1] in s["networks"] and s["accepting_new_patients"] and s["kind"] == "practitioner"),
    ("no-filter", lambda w: {}, lambda w: lambda s: True),
]


@pytest.mark.parametrize("case", FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
def test_filter_returns_exactly_the_matching_listings(world, case):
    _, params, pred = case
    p = params(world)
    expected = world.expect(pred(world))
    assert expected, "the case should match something"
    _, results = fetch_all(world.client, sort="name", **p)
    assert {r["id"] for r in results} == expected
    assert name_order(results) == sorted(name_order(results))


@pytest.mark.parametrize("case", FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
@pytest.mark.parametrize("place", [("02115", 3.0), ("02115", 50.0)])
def test_filter_within_a_radius(world, case, place):
    _, params, pred = case
    expected = world.expect(pred(world), place)
    _, results = fetch_all(world.client, zip=place[0], radius=str(place[1]), **params(world))
    assert {r["id"] for r in results} == expected
    keys = [(r["distance_mi"], name_key(r["name"])) for r in results]
    assert keys == sorted(keys)


def test_repeated_parameters_are_any_of(world):
    a = ids(world.client, specialty=["207RR0500X", "261QI0500X"], sort="name")
    b = ids(world.client, specialty="207RR0500X,261QI0500X", sort="name")
    assert a == b and a


def facet_counts(results: list[dict]) -> dict[str, dict[str, int]]:
    specialty = Counter(s["code"] for r in results for s in r["specialties"])
    network = Counter(str(n["id"]) for r in results for n in r["networks"])
    kind = Counter(r["kind"] for r in results)
    accepting = sum(1 for r in results if r["accepting_new_patients"])
    return {
        "specialty": dict(specialty),
        "network": dict(network),
        "kind": dict(kind),
        "accepting": {"true": accepting, "false": len(results) - accepting},
    }


@pytest.mark.parametrize("case", FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
@pytest.mark.parametrize("extra", [{}, {"zip": "02115", "radius": "5"}, {"q": "infusion"}])
def test_facets_count_the_result_set(world, case, extra):
    _, params, _ = case
    first, results = fetch_all(world.client, **params(world), **extra)
    facets = first["facets"]
    assert set(facets) == {"specialty", "network", "kind", "accepting"}
    assert facets == facet_counts(results)
    for name in ("specialty", "network", "kind"):
        items = list(facets[name].items())
        assert items == sorted(items, key=lambda kv: (-kv[1], kv[0])), name
    # Facets describe the whole result set, not the page.
    body = get(world.client, per_page=3, page=2, **params(world), **extra)
    assert body["facets"] == facets


def test_sort_name_orders_by_name_then_id(world):
    _, results = fetch_all(world.client, sort="name")
    assert len(results) == len(world.listings)
    assert name_order(results) == sorted(name_order(results))
    # "Beacon Infusion" and "beacon Infusion" sort together, by id.
    beacons = [r for r in results if r["name"].casefold() == "beacon infusion"]
    assert len({r["name"] for r in beacons}) == 2
    assert [r["id"] for r in beacons] == sorted(r["id"] for r in beacons)


def test_sort_distance_needs_a_place(world):
    response = world.client.get("/api/v1/search?sort=distance")
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "sort"


@pytest.mark.parametrize(
    "params, field",
    [
        ({"specialty": "XYZ"}, "specialty"),
        ({"network": "999999"}, "network"),
        ({"network": "abc"}, "network"),
        ({"kind": "hospital"}, "kind"),
        ({"accepting": "maybe"}, "accepting"),
        ({"language": "xx"}, "language"),
        ({"service": "massage"}, "service"),
        ({"sort": "price"}, "sort"),
    ],
)
def test_bad_filters_are_refused(world, params, field):
    response = world.client.get("/api/v1/search", query_string=params)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field


# -- text ------------------------------------------------------------------------------------------


def search_ids(client, q: str, **params) -> set[int]:
    return {r["id"] for r in fetch_all(client, q=q, **params)[1]}


def test_stemming(client, factory):
    centre = factory.listing(name="Riverside Infusion", specialties=["261QM1300X"])
    other = factory.listing(name="Riverside Clinic", specialties=["363LF0000X"], kind="practitioner",
                            first_name="Hal", last_name="Quint")
    assert centre.id in search_ids(client, "infusions")
    assert centre.id in search_ids(client, "infusing")
    assert other.id not in search_ids(client, "infusions")
    assert search_ids(client, "riverside") == {centre.id, other.id}


@pytest.mark.parametrize(
    "q",
    ["intravenous immunoglobulin", "immune globulin", "IVIG", "Privigen", "gammagard", "gamma globulin",
     "Octagam"],
)
def test_service_synonyms_expand_at_index_time(client, factory, q):
    # 261QM1300X (multi-specialty clinic) is not tied to IVIG by the vocabulary; the service is.
    with_ivig = factory.listing(name="Quarry Hill Clinic", specialties=["261QM1300X"], services=["ivig"])
    without = factory.listing(name="Stone Gate Clinic", specialties=["261QM1300X"], services=[])
    found = search_ids(client, q)
    assert with_ivig.id in found
    assert without.id not in found


def test_ivig_products_are_searchable(client, factory):
    stocked = factory.listing(name="Quarry Hill Clinic", specialties=["261QM1300X"],
                              ivig_products=["Hizentra"])
    other = factory.listing(name="Stone Gate Clinic", specialties=["261QM1300X"])
    assert search_ids(client, "hizentra") == {stocked.id}
    assert other.id not in search_ids(client, "hizentra")


@pytest.mark.parametrize("q", ["dermatomyositis", "lupus", "scleroderma", "vasculitis", "rheumatology"])
def test_condition_found_through_specialty(client, factory, q):
    rheum = factory.listing(kind="practitioner", name="Dr. Grace Whitfield", first_name="Grace",
                            last_name="Whitfield", specialties=["207RR0500X"])
    haem = factory.listing(kind="practitioner", name="Dr. Omar Benali", first_name="Omar",
                           last_name="Benali", specialties=["207RH0000X"])
    found = search_ids(client, q)
    assert rheum.id in found
    assert haem.id not in found


@pytest.mark.parametrize(
    "q",
    ["rheumatolgy", "rheumatoligy", "dermatomyosits", "dermatomiositis", "Whitfeld", "Whitfielt", "Whitfoeld",
     "Whitfeild"],
)
def test_typo_tolerance(client, factory, q):
    rheum = factory.listing(kind="practitioner", name="Dr. Grace Whitfield", first_name="Grace",
                            last_name="Whitfield", specialties=["207RR0500X"])
    factory.listing(kind="practitioner", name="Dr. Omar Benali", first_name="Omar",
                    last_name="Benali", specialties=["207RH0000X"])
    found = search_ids(client, q)
    assert rheum.id in found


def test_short_misspelling_does_not_fuzzy_match(client, factory):
    kahn = factory.listing(kind="practitioner", name="Dr. Lena Kahn", first_name="Lena", last_name="Kahn",
                           specialties=["207RH0000X"])
    assert fuzzy_distance("kahm") == 0 and fuzzy_distance("kahnn") == 1
    assert search_ids(client, "Kahn") == {kahn.id}
    assert search_ids(client, "Kahm") == set()
    assert search_ids(client, "Kohn") == set()


def test_words_are_anded(client, factory):
    boston_rheum = factory.listing(kind="practitioner", name="Dr. Ana Ruiz", first_name="Ana",
                                   last_name="Ruiz",
                                   specialties=["207RR0500X"], zip="02115")
    worcester_rheum = factory.listing(kind="practitioner", name="Dr. Ben Ortiz", first_name="Ben",
                                      last_name="Ortiz", specialties=["207RR0500X"], zip="01608")
    boston_infusion = factory.listing(name="Fenway Infusion Center", specialties=["261QI0500X"], zip="02115")
    assert search_ids(client, "rheumatology") == {boston_rheum.id, worcester_rheum.id}
    assert search_ids(client, "boston") == {boston_rheum.id, boston_infusion.id}
    assert search_ids(client, "rheumatology boston") == {boston_rheum.id}
    assert search_ids(client, "rheumatology worcester") == {worcester_rheum.id}
    assert search_ids(client, "fenway worcester") == set()
    assert search_ids(client, "fenway boston") == {boston_infusion.id}
    assert search_ids(client, "rheumatology boston xylophone") == set()


def test_relevance_ranks_a_name_match_above_a_topic_match(client, factory):
    topic_only = factory.listing(kind="practitioner", name="Dr. Ivy Chen", first_name="Ivy", last_name="Chen",
                                 specialties=["207RR0500X"])  # myositis through the vocabulary
    named = factory.listing(name="Myositis Care Partners", specialties=["261QM1300X"])
    body = get(client, q="myositis", sort="relevance")
    assert [r["id"] for r in body["results"]] == [named.id, topic_only.id]
    body = get(client, q="myositis")  # relevance is the default without a place
    assert [r["id"] for r in body["results"]] == [named.id, topic_only.id]
    body = get(client, q="myositis", zip="02115", radius="10", sort="relevance")
    assert [r["id"] for r in body["results"]] == [named.id, topic_only.id]


def test_exact_match_ranks_above_fuzzy_match(client, factory):
    exact = factory.listing(kind="practitioner", name="Dr. Rosa Marten", first_name="Rosa",
                            last_name="Marten",
                            specialties=["207RH0000X"])
    fuzzy = factory.listing(kind="practitioner", name="Dr. Rosa Martin", first_name="Rosa",
                            last_name="Martin",
                            specialties=["207RH0000X"])
    body = get(client, q="Martin")
    assert [r["id"] for r in body["results"]] == [fuzzy.id, exact.id]


@pytest.mark.parametrize(
    "q", ["!!!", "...", "-", "%", "?&*", "   ", "the of and", "\u0000\u0007", "'\"", "*:*"]
)
@pytest.mark.parametrize("place", [{}, {"zip": "02115", "radius": "10"}])
def test_text_without_words_is_accepted(client, factory, q, place):
    factory.listing()
    response = client.get("/api/v1/search", query_string={"q": q, **place})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["total"] == len(body["results"])


def test_text_combines_with_filters_and_place(client, factory):
    near = factory.listing(kind="practitioner", name="Dr. Ana Ruiz", first_name="Ana", last_name="Ruiz",
                           specialties=["207RR0500X"], zip="02115", telehealth=True)
    far = factory.listing(kind="practitioner", name="Dr. Ben Ortiz", first_name="Ben", last_name="Ortiz",
                          specialties=["207RR0500X"], zip="10001", telehealth=True)
    factory.listing(kind="practitioner", name="Dr. Cy Park", first_name="Cy", last_name="Park",
                    specialties=["207RR0500X"], zip="02115", telehealth=False)
    assert search_ids(client, "lupus", telehealth="true") == {near.id, far.id}
    assert search_ids(client, "lupus", telehealth="true", zip="02115", radius="25") == {near.id}
    body = get(client, q="lupus", zip="02115", radius="500", telehealth="true")
    assert [r["id"] for r in body["results"]] == [near.id, far.id]  # distance is the default with a place
