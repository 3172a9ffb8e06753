"""`place=` on /api/v1/search and the place box: resolved places echoed, clear 400s, distances
marked by what they are measured to (`distance_basis`) on both search backends, and street
addresses through the configured geocoder (a real geopy client against a geocoder on loopback)."""

from __future__ import annotations

import pytest

from directory.geo import geopy_miles, lookup_zip
from directory.places import resolve_place
from tests.backends import close_app, make_app
from tests.geocoding.server import Failure, LoopbackGeocoder
from tests.read.test_cards import place_at_street
from tests.web.test_api import assert_error

SEARCH = "/api/v1/search"


def test_a_city_is_searched_around_and_echoed(client, factory):
    fenway = factory.listing(name="Fenway Infusion Center", zip="02115")
    factory.listing(name="Worcester Infusion Suites", zip="01608")  # about 40 miles out
    body = client.get(SEARCH, query_string={"place": "boston ma"}).get_json()
    boston = resolve_place("Boston, MA")
    assert body["place"] == {"name": "Boston, MA", "lat": boston.lat, "lon": boston.lon, "resolved_by": "city",
                             "radius_mi": 25.0}
    assert [r["id"] for r in body["results"]] == [fenway.id]
    [card] = body["results"]
    expected = geopy_miles((boston.lat, boston.lon), (card["location"]["lat"], card["location"]["lon"]))
    assert card["distance_mi"] == round(expected, 1)
    assert (card["distance_basis"], card["location"]["geo_source"]) == ("zip_centroid", "zip_centroid")


def test_every_kind_of_place_is_echoed_and_no_place_echoes_nothing(client, factory):
    factory.listing()
    by_zip = client.get(SEARCH, query_string={"place": "02115-1234", "radius": "10"}).get_json()["place"]
    assert (by_zip["name"], by_zip["resolved_by"], by_zip["radius_mi"]) == ("02115 (Boston, MA)", "zip", 10.0)
    assert client.get(SEARCH, query_string={"zip": "02115"}).get_json()["place"] == by_zip | {"radius_mi": 25.0}
    by_point = client.get(SEARCH, query_string={"lat": "42.34", "lon": "-71.1"}).get_json()["place"]
    assert by_point == {"name": "42.3400, -71.1000", "lat": 42.34, "lon": -71.1, "resolved_by": "coordinates",
                        "radius_mi": 25.0}
    body = client.get(SEARCH, query_string={"q": "infusion"}).get_json()
    assert "place" not in body and all("distance_basis" not in r for r in body["results"])


def test_an_ambiguous_city_is_400_with_its_matches(client):
    response = client.get(SEARCH, query_string={"place": "Springfield"})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (error["code"], error["field"]) == ("ambiguous_place", "place")
    assert {"city": "Springfield", "state": "IL", "place": "Springfield, IL"} in error["matches"]
    assert set(error) == {"code", "message", "field", "matches"}
    # A match's place value is a search that works.
    assert client.get(SEARCH, query_string={"place": error["matches"][0]["place"]}).status_code == 200


@pytest.mark.parametrize(("params", "code"), [
    ({"place": "Xyzzyville, MA"}, "unknown_place"),
    ({"place": "99999"}, "unknown_zip"),
    ({"place": "1 Main St, Boston, MA 02115"}, "needs_geocoder"),
    ({"place": "x" * 10_240}, "invalid_parameter"),
    ({"place": "\x00\x07"}, "unknown_place"),
    ({"place": "Boston, MA", "zip": "02115"}, "invalid_parameter"),
    ({"place": "Boston, MA", "lat": "42", "lon": "-71"}, "invalid_parameter"),
    ({"place": ["Boston, MA", "Chicago, IL"]}, "invalid_parameter"),
])
def test_places_that_cannot_be_searched_are_400_naming_place(client, params, code):
    assert assert_error(client.get(SEARCH, query_string=params), 400, "place")["code"] == code


def test_other_parameters_are_still_checked_with_a_place(client):
    assert_error(client.get(SEARCH, query_string={"place": "Boston, MA", "radius": "0"}), 400, "radius")
    assert client.get(SEARCH, query_string={"place": "", "q": "infusion"}).status_code == 200  # empty: no place


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_distance_basis_is_street_only_for_a_geocoded_location(app, client, factory, session):
    centroid = factory.listing(name="Fenway Infusion Center", zip="02115")
    street = factory.listing(name="Back Bay Infusion", zip="02116")
    place_at_street(app, session, street.id, 42.3505, -71.0760)
    factory.sync()
    for params in ({"place": "Boston, MA"}, {"zip": "02115"}, {"lat": "42.35", "lon": "-71.07"}):
        body = client.get(SEARCH, query_string=params).get_json()
        cards = {r["id"]: r for r in body["results"]}
        assert cards[centroid.id]["distance_basis"] == "zip_centroid"
        assert cards[street.id]["distance_basis"] == "street"
        assert (cards[street.id]["location"]["lat"], cards[street.id]["location"]["geo_source"]) == (42.3505,
                                                                                                    "geocoder")
        origin = (body["place"]["lat"], body["place"]["lon"])
        assert cards[street.id]["distance_mi"] == round(geopy_miles(origin, (42.3505, -71.0760)), 1)


def test_the_page_says_about_for_zip_centroids_and_offers_ambiguous_matches(app, client, factory, session):
    factory.listing(name="Fenway Infusion Center", zip="02115")
    street = factory.listing(name="Back Bay Infusion", zip="02116")
    place_at_street(app, session, street.id, 42.3505, -71.0760)
    html = client.get("/?place=Boston%2C+MA").get_data(as_text=True)
    assert "within 25 miles of Boston, MA" in html
    assert html.count(">about ") == 1  # Fenway, at its ZIP's centre; Back Bay has a street point
    assert 'value="Boston, MA"' in html
    html = client.get("/?place=Portland&q=infusion").get_data(as_text=True)
    assert 'id="place-error"' in html and 'aria-invalid="true"' in html
    assert 'href="?q=infusion&amp;place=Portland%2C+OR"' in html  # the other fields kept
    assert "Portland, ME" in html
    csv_text = client.get("/export.csv?place=Boston%2C+MA").get_data(as_text=True)
    assert csv_text.splitlines()[0].startswith("id,name,kind,npi,distance_mi,distance_basis,")
    assert {line.split(",")[5] for line in csv_text.splitlines()[1:]} == {"street", "zip_centroid"}
    referrals = client.get("/referrals?place=Boston%2C+MA").get_data(as_text=True)
    assert "within 25 miles of Boston, MA" in referrals and "<td>about " in referrals


def test_the_place_box_mentions_street_addresses_only_with_a_geocoder(client, tmp_path):
    assert "ZIP, City, ST</label>" in client.get("/").get_data(as_text=True)
    (tmp_path / "geo").mkdir()
    with LoopbackGeocoder(synthesise=True) as geocoder:
        app = make_app("whoosh", tmp_path / "geo", **geocoder.config())
        try:
            assert "ZIP, City, ST, or street address</label>" in app.test_client().get("/").get_data(as_text=True)
        finally:
            close_app(app)


def test_a_street_address_through_the_configured_geocoder(tmp_path):
    with LoopbackGeocoder(synthesise=True) as geocoder:
        app = make_app("whoosh", tmp_path, **geocoder.config())
        try:
            client = app.test_client()
            address = "1 Main St, Boston, MA 02115"
            body = client.get(SEARCH, query_string={"place": address}).get_json()
            assert body["place"]["resolved_by"] == "address" and body["place"]["name"] == address
            centre = lookup_zip("02115")
            assert geopy_miles((centre.lat, centre.lon), (body["place"]["lat"], body["place"]["lon"])) < 5
            assert geocoder.received[address] == 1
            # Cities and ZIPs stay offline.
            assert client.get(SEARCH, query_string={"place": "Boston, MA"}).status_code == 200
            assert sum(geocoder.received.values()) == 1
            # Nothing found: 400; the geocoder failing: 503, not the patient's fault.
            nowhere = client.get(SEARCH, query_string={"place": "1 Nowhere Rd, Boston"})
            assert assert_error(nowhere, 400, "place")["code"] == "address_not_found"
            geocoder.script.append(Failure(status=500))
            down = client.get(SEARCH, query_string={"place": "2 Main St, Boston, MA 02115"})
            assert assert_error(down, 503, "place")["code"] == "geocoder_unavailable"
            geocoder.script.append(Failure(status=500))
            page = client.get("/", query_string={"place": "2 Main St, Boston, MA 02115"}).get_data(as_text=True)
            assert 'id="place-error"' in page and "not answering" in page
        finally:
            close_app(app)
