"""`geocode_address` and the sanity rules, against the loopback geocoder speaking Nominatim and
Photon through geopy's real client code."""

from __future__ import annotations

import time

import pytest

from directory.geocoding import GeocodedPoint, GeocodingFailed, geocode_address
from directory.geocoding.sanity import Match, rejection
from tests.geocoding.apps import geocoding_app
from tests.geocoding.server import Failure

FENWAY = "12 Main St, Boston, MA 02115"
ATTLEBORO = "40 Main St, Attleboro, MA 02703"


@pytest.fixture
def photon_app(tmp_path, request, loopback):
    with geocoding_app("whoosh", tmp_path, request, loopback, service="photon") as app:
        yield app


def test_nominatim_house_and_street_matches_give_points(geo_app, loopback):
    loopback.answers[FENWAY] = "nominatim/house.json"
    loopback.answers["Boylston St, Boston, MA 02215"] = "nominatim/road.json"
    assert geocode_address(geo_app, FENWAY) == GeocodedPoint(42.3398067, -71.089231, "house")
    assert geocode_address(geo_app, "Boylston St, Boston, MA 02215") == GeocodedPoint(42.3441912, -71.0982054, "road")
    assert loopback.received[FENWAY] == 1
    # Asked for the address details the sanity rules read, in the US and its territories.
    assert loopback.parameters[0] == {"q": [FENWAY], "format": ["json"], "limit": ["1"], "addressdetails": ["1"],
                                      "countrycodes": ["us,pr,gu,vi,as,mp,um"]}


def test_photon_house_match_gives_a_point(photon_app, loopback):
    loopback.answers[FENWAY] = "photon/house.json"
    assert geocode_address(photon_app, FENWAY) == GeocodedPoint(42.3398067, -71.089231, "house")


@pytest.mark.parametrize("fixture", ["nominatim/city.json", "nominatim/postcode.json", "nominatim/empty.json",
                                     "nominatim/far.json"])
def test_nominatim_answers_that_place_nothing(geo_app, loopback, fixture):
    loopback.answers[FENWAY] = fixture
    assert geocode_address(geo_app, FENWAY) is None
    assert loopback.answered[FENWAY] == 1


def test_an_answer_in_another_state_places_nothing(geo_app, loopback):
    loopback.answers[ATTLEBORO] = "nominatim/other_state.json"  # Pawtucket, RI: 6 miles away
    assert geocode_address(geo_app, ATTLEBORO) is None


@pytest.mark.parametrize("fixture", ["photon/city.json", "photon/empty.json"])
def test_photon_answers_that_place_nothing(photon_app, loopback, fixture):
    loopback.answers[FENWAY] = fixture
    assert geocode_address(photon_app, FENWAY) is None


def test_server_error_rate_limit_and_timeout_raise(tmp_path, request, loopback):
    with geocoding_app("whoosh", tmp_path, request, loopback, GEOCODER_TIMEOUT=0.3) as app:
        loopback.script.append(Failure(500))
        with pytest.raises(GeocodingFailed, match="nominatim failed: GeocoderServiceError") as failed:
            geocode_address(app, FENWAY)
        assert failed.value.retry_after is None and not failed.value.permanent
        # geopy's HTTP client itself waits out a 429's Retry-After twice; the third 429 reaches us.
        loopback.script.extend([Failure(429, {"Retry-After": "1"})] * 3)
        started = time.monotonic()
        with pytest.raises(GeocodingFailed, match="limiting our rate") as limited:
            geocode_address(app, FENWAY)
        assert limited.value.retry_after == 1
        assert time.monotonic() - started >= 2
        assert loopback.received[FENWAY] == 4
        # A read timeout too is tried three times by geopy's client before it reaches us.
        loopback.script.extend([Failure(200, delay=1.0)] * 3)
        started = time.monotonic()
        with pytest.raises(GeocodingFailed, match="Read timed out"):
            geocode_address(app, FENWAY)
        assert time.monotonic() - started < 2.5
        loopback.script.append(Failure(403))
        with pytest.raises(GeocodingFailed, match="refused our credentials") as refused:
            geocode_address(app, FENWAY)
        assert refused.value.permanent


def test_calls_keep_the_minimum_delay(tmp_path, request, loopback):
    with geocoding_app("whoosh", tmp_path, request, loopback, GEOCODER_MIN_DELAY=0.25) as app:
        started = time.monotonic()
        for _ in range(3):
            geocode_address(app, FENWAY)
        assert time.monotonic() - started >= 0.5
        assert loopback.received[FENWAY] == 3


@pytest.mark.parametrize("match, reason", [
    (Match(42.34, -71.09, kind="house", state="MA", country="us", rank=30), None),
    (Match(42.34, -71.09, kind="road", state="MA", country="us", rank=26), None),
    (Match(42.34, -71.09), None),  # another geocoder: judged by distance alone
    (Match(42.34, -71.09, kind="suburb", state="MA", country="us", rank=20), "matched only a suburb"),
    (Match(42.34, -71.09, kind="something", rank=18), "matched only an area (place rank 18)"),
    (Match(42.34, -71.09, kind="house", country="ca"), "outside the United States (country CA)"),
    (Match(42.34, -71.09, kind="house", state="NH"), "placed it in NH, not MA"),
    (Match(42.70, -71.09, kind="house", state="MA"), None),  # 24.7 mi
    (Match(42.71, -71.09, kind="house", state="MA"), "25.4 mi from the centre of ZIP 02115 (more than 25 mi)"),
])
def test_sanity_rules(match, reason):
    found = rejection(match, state="MA", centre=(42.3429, -71.1003), zip5="02115", max_distance_mi=25)
    if reason is None:
        assert found is None
    else:
        assert reason in found
