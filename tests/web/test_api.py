"""Contract tests of the read API (v1): what a client sends, and what it gets back."""

from __future__ import annotations

import pytest

SEARCH = "/api/v1/search"


def assert_error(response, status: int, field: str | None) -> dict:
    """The one error shape: {"error": {"code", "message", "field"}} as JSON with a 4xx status."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "field"}
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert error["field"] == field
    return error


# -- validation: 400, naming the field, never clamped or ignored ------------------------------------

INVALID = [
    ({"zip": "02115", "radius": "0"}, "radius"),
    ({"zip": "02115", "radius": "0.5"}, "radius"),
    ({"zip": "02115", "radius": "501"}, "radius"),
    ({"zip": "02115", "radius": "abc"}, "radius"),
    ({"zip": "02115", "radius": "nan"}, "radius"),
    ({"zip": "02115", "radius": "inf"}, "radius"),
    ({"per_page": "0"}, "per_page"),
    ({"per_page": "101"}, "per_page"),
    ({"page": "0"}, "page"),
    ({"page": "x"}, "page"),
    ({"specialty": "ZZZZZZZZZX"}, "specialty"),
    ({"specialty": ["261QI0500X", "nope"]}, "specialty"),
    ({"network": "abc"}, "network"),
    ({"network": "987654"}, "network"),
    ({"kind": "hospital"}, "kind"),
    ({"sort": "price"}, "sort"),
    ({"accepting": "maybe"}, "accepting"),
    ({"telehealth": "maybe"}, "telehealth"),
    ({"language": "xx"}, "language"),
    ({"service": "massage"}, "service"),
    ({"lat": "42.34"}, "lon"),
    ({"lon": "-71.1"}, "lat"),
    ({"lat": "91", "lon": "0"}, "lat"),
    ({"lat": "0", "lon": "181"}, "lon"),
    ({"q": "a" * 201}, "q"),
    ({"zip": "1234"}, "zip"),
    ({"zip": "ABCDE"}, "zip"),
    ({"zip": "99999"}, "zip"),
    ({"zip": "99999-1234"}, "zip"),
    ({"zip": "02115", "lat": "42.3", "lon": "-71.1"}, "zip"),
    ({"radius": "10"}, "radius"),
    ({"sort": "distance"}, "sort"),
]


@pytest.mark.parametrize(
    ("params", "field"), INVALID, ids=[f"{field}:{params}"[:60] for params, field in INVALID]
)
def test_invalid_parameter_is_400_naming_the_field(client, params, field):
    assert_error(client.get(SEARCH, query_string=params), 400, field)


def test_a_known_network_is_accepted_and_an_unknown_one_is_not(client, factory):
    network = factory.network()
    assert client.get(SEARCH, query_string={"network": network.id}).status_code == 200
    assert_error(client.get(SEARCH, query_string={"network": [network.id, network.id + 1]}), 400, "network")


def test_boundary_values_are_accepted(client):
    for params in (
        {"zip": "02115", "radius": "1"},
        {"zip": "02115", "radius": "500"},
        {"per_page": "1"},
        {"per_page": "100"},
        {"lat": "-90", "lon": "180", "radius": "1"},
        {"q": "a" * 200},
        {"zip": "02115-1234"},
    ):
        response = client.get(SEARCH, query_string=params)
        assert response.status_code == 200, (params, response.get_json())
        assert response.get_json()["per_page"] == int(params.get("per_page", 20))


# -- paging and the result shape ----------------------------------------------------------------


def test_a_page_past_the_end_is_empty_with_the_right_total(client, factory):
    factory.listing(name="Fenway Infusion Center")
    factory.listing(name="Back Bay Infusion", zip="02116")
    response = client.get(SEARCH, query_string={"zip": "02115", "per_page": 2, "page": 3})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["total"], body["page"], body["per_page"], body["results"]) == (2, 3, 2, [])


def test_pages_are_disjoint_and_ordered_by_distance(client, factory):
    near = factory.listing(name="Fenway Infusion Center", zip="02115")
    mid = factory.listing(name="Cambridge Infusion", zip="02139")
    far = factory.listing(name="Quincy Infusion", zip="02169")
    pages = [
        client.get(SEARCH, query_string={"zip": "02115", "per_page": 2, "page": p}).get_json() for p in (1, 2)
    ]
    assert [r["id"] for page in pages for r in page["results"]] == [near.id, mid.id, far.id]
    distances = [r["distance_mi"] for page in pages for r in page["results"]]
    assert distances == sorted(distances) and distances[0] == 0.0
    assert all(page["total"] == 3 for page in pages)


# -- ZIP lookup -----------------------------------------------------------------------------------


@pytest.mark.parametrize("zip_code", ["02115", "02115-1234"])
def test_zip_lookup_returns_boston(client, zip_code):
    response = client.get(f"/api/v1/zip/{zip_code}")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["zip"], body["city"], body["state"]) == ("02115", "Boston", "MA")
    assert 42 < body["lat"] < 43 and -72 < body["lon"] < -71


def test_zip_lookup_keeps_leading_zeros(client):
    response = client.get("/api/v1/zip/00501")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["zip"] == "00501"


@pytest.mark.parametrize("zip_code", ["99999", "abc", "1234", "99999-1234"])
def test_unknown_or_malformed_zip_is_404(client, zip_code):
    assert_error(client.get(f"/api/v1/zip/{zip_code}"), 404, "zip")


def test_unknown_provider_is_404(client):
    assert_error(client.get("/api/v1/providers/999999"), 404, "id")


def test_a_deactivated_provider_is_410_gone(client, factory, session):
    from directory.services.listings import set_active

    listing = factory.listing()
    set_active(session, listing.id, False, actor="test")
    session.commit()
    error = assert_error(client.get(f"/api/v1/providers/{listing.id}"), 410, "id")
    assert error["code"] == "gone" and "removed from the directory" in error["message"]
    set_active(session, listing.id, True, actor="test")
    session.commit()
    assert client.get(f"/api/v1/providers/{listing.id}").status_code == 200


def test_provider_detail_has_every_location(client, factory):
    listing = factory.listing(zips=["02115", "02139"])
    body = client.get(f"/api/v1/providers/{listing.id}").get_json()
    assert body["id"] == listing.id
    assert sorted(loc["zip"] for loc in body["locations"]) == ["02115", "02139"]


# -- JSON everywhere --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        SEARCH,
        "/api/v1/specialties",
        "/api/v1/networks",
        "/api/v1/zip/02115",
        "/healthz",
        "/api/v1/openapi.json",
        f"{SEARCH}?radius=0",
        "/api/v1/zip/abc",
        "/api/v1/providers/1",
    ],
)
def test_every_response_is_json(client, url):
    response = client.get(url)
    assert response.mimetype == "application/json"
    assert response.get_json() is not None


def test_unknown_api_path_is_a_json_404(client):
    error = assert_error(client.get("/api/v1/nope"), 404, None)
    assert error["code"] == "not_found"


def test_wrong_method_is_a_json_405(client):
    error = assert_error(client.post(SEARCH), 405, None)
    assert error["code"] == "method_not_allowed"


# -- q is plain text --------------------------------------------------------------------------------

HOSTILE = [
    '"',
    "(((",
    "name:foo",
    "*",
    "?",
    "foo AND bar OR",
    "title:(a OR b)^3",
    "\x00\x01",
    "💉🩸 ivig",
    "(" * 200,
    "~2",
    "-",
    "NOT",
    "fenway~",
    "name:fenway^10",
    "lid:[0 TO 999]",
    "%",
    "'; drop table",
]


@pytest.mark.parametrize("q", HOSTILE, ids=[repr(q)[:24] for q in HOSTILE])
def test_hostile_q_is_searched_as_plain_text(client, factory, q):
    factory.listing(name="Fenway Infusion Center")
    response = client.get(SEARCH, query_string={"q": q})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body["results"], list) and body["total"] >= 0


def names_for(client, q: str) -> list[str]:
    response = client.get(SEARCH, query_string={"q": q})
    assert response.status_code == 200
    return [r["name"] for r in response.get_json()["results"]]


@pytest.mark.parametrize("q", ["Fenway", '"Fenway"', "fenway", "Fenwey", "fenway infusion"])
def test_plain_words_find_the_listing(client, factory, q):
    factory.listing(name="Fenway Infusion Center")
    factory.listing(name="Quincy Medical Group", zip="02169")
    assert names_for(client, q) == ["Fenway Infusion Center"]


@pytest.mark.parametrize(
    "q", ["name:*", "name:fen*", "lid:[0 TO 999999]", "Fenway AND zzzz", "zzzz OR Fenway"]
)
def test_query_syntax_is_not_interpreted(client, factory, q):
    factory.listing(name="Fenway Infusion Center")
    assert names_for(client, q) == []


@pytest.mark.parametrize("q", ["*", "**", "?", "(((", '"', "-", "NOT"])
def test_a_q_with_no_searchable_words_matches_nothing(client, factory, q):
    factory.listing(name="Fenway Infusion Center")
    assert names_for(client, q) == []


@pytest.mark.parametrize("q", ["Fenway!", "Fenway?", "Fenway.", "(Fenway)", "Fenway~"])
def test_punctuation_around_a_word_is_ignored(client, factory, q):
    factory.listing(name="Fenway Infusion Center")
    assert names_for(client, q) == ["Fenway Infusion Center"]


@pytest.mark.parametrize("q", ["Fenway*", "Fenway *", "*Fenway"])
def test_an_asterisk_is_punctuation_like_any_other(client, factory, q):
    factory.listing(name="Fenway Infusion Center")
    assert names_for(client, q) == ["Fenway Infusion Center"]


# -- lists and health -------------------------------------------------------------------------------


def test_specialties_list_the_taxonomy(client):
    response = client.get("/api/v1/specialties")
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert 40 <= len(results) <= 50
    assert all(set(s) == {"code", "display", "group"} and len(s["code"]) == 10 for s in results)
    assert "261QI0500X" in {s["code"] for s in results}
    assert len({s["code"] for s in results}) == len(results)


def test_networks_list_a_new_network(client, factory):
    network = factory.network(name="Blue Select PPO", payer="Blue Health", plan_type="PPO")
    response = client.get("/api/v1/networks")
    assert response.status_code == 200
    assert response.get_json()["results"] == [
        {"id": network.id, "name": "Blue Select PPO", "payer": "Blue Health", "plan_type": "PPO"}
    ]


def test_search_filters_by_network(client, factory):
    network = factory.network()
    inside = factory.listing(name="In Network Infusion", networks=[network.id])
    factory.listing(name="Out Of Network Infusion")
    body = client.get(SEARCH, query_string={"network": network.id, "zip": "02115"}).get_json()
    assert [r["id"] for r in body["results"]] == [inside.id]
    assert body["results"][0]["networks"] == [{"id": network.id, "name": network.name}]


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json()["status"] == "ok"
