"""The place box, offline: ZIPs, "City, ST" in the ways people type it, ambiguous and unknown names,
street addresses (with and without a geocoder), and input nobody should type."""

from __future__ import annotations

import pytest

from directory.geo import lookup_zip
from directory.places import (
    MAX_PLACE,
    GeocoderUnavailable,
    PlaceError,
    city_key,
    looks_like_street_address,
    resolve_place,
)


@pytest.mark.parametrize("text", ["Boston, MA", "boston ma", "BOSTON,MA", "  Boston ,  ma ", "Boston, Massachusetts",
                                  "boston massachusetts", "Boston, MA, USA", "Boston MA.", "Boston,\tMA"])
def test_boston_written_many_ways_is_one_city(text):
    place = resolve_place(text)
    assert (place.name, place.resolved_by, place.zip) == ("Boston, MA", "city", None)
    assert lookup_zip("02115").lat == pytest.approx(place.lat, abs=0.05)  # near the middle of Boston
    assert lookup_zip("02115").lon == pytest.approx(place.lon, abs=0.05)


@pytest.mark.parametrize(("text", "name", "state"), [
    ("St. Louis, MO", "Saint Louis, MO", "MO"), ("saint louis mo", "Saint Louis, MO", "MO"),
    ("Ft. Worth, TX", "Fort Worth, TX", "TX"), ("Mt Vernon, NY", "Mount Vernon, NY", "NY"),
    ("Washington, DC", "Washington, DC", "DC"), ("washington dc", "Washington, DC", "DC"),
    ("San Juan, PR", "San Juan, PR", "PR"), ("Mayagüez PR", "Mayaguez, PR", "PR"),
    ("Salt Lake City UT", "Salt Lake City, UT", "UT"), ("New York NY", "New York, NY", "NY"),
    ("Portland Maine", "Portland, ME", "ME"), ("Winston-Salem, NC", "Winston Salem, NC", "NC"),
    ("Coeur d'Alene, ID", "Coeur D Alene, ID", "ID"), ("McLean, VA", "Mc Lean, VA", "VA"),
    ("Anchorage, AK", "Anchorage, AK", "AK"), ("Honolulu HI", "Honolulu, HI", "HI"),
])
def test_cities_with_abbreviations_accents_and_punctuation(text, name, state):
    place = resolve_place(text)
    assert (place.name, place.resolved_by) == (name, "city")
    assert place.name.endswith(state)


def test_a_city_point_is_the_mean_of_its_street_zips_and_inside_the_state():
    st_louis = resolve_place("St. Louis, MO")
    assert 38.5 < st_louis.lat < 38.8 and -90.4 < st_louis.lon < -90.1
    portland = resolve_place("Portland, OR")
    assert 45.4 < portland.lat < 45.65 and -122.8 < portland.lon < -122.5


@pytest.mark.parametrize(("text", "zip5"), [("02115", "02115"), ("02115-1234", "02115"), ("021151234", "02115"),
                                            ("02115 1234", "02115"), (" 00601 ", "00601"),
                                            ("Boston, MA 02116", "02116"), ("Hartford CT 06103", "06103")])
def test_zips_and_a_zip_after_the_city(text, zip5):
    place = resolve_place(text)
    assert (place.resolved_by, place.zip) == ("zip", zip5)
    assert place.name.startswith(zip5 + " (")


@pytest.mark.parametrize(("text", "states"), [("Springfield", {"IL", "MA", "MO", "OR", "OH"}),
                                              ("Portland", {"OR", "ME"}), ("Washington", {"DC", "NC", "PA"})])
def test_a_name_in_several_states_offers_its_matches(text, states):
    with pytest.raises(PlaceError) as caught:
        resolve_place(text)
    error = caught.value
    assert error.code == "ambiguous_place"
    assert states <= {match.state for match in error.matches}
    assert all(match.city.lower() == text.lower() for match in error.matches)
    assert len({match.label for match in error.matches}) == len(error.matches)
    # Each match resolves as it is offered.
    for match in error.matches[:5]:
        assert resolve_place(match.label).name == match.label


def test_a_city_in_the_wrong_state_offers_where_it_is():
    with pytest.raises(PlaceError) as caught:
        resolve_place("Boston, CA")
    assert caught.value.code == "unknown_place"
    assert caught.value.matches[0].label == "Boston, MA"  # most ZIP codes first


@pytest.mark.parametrize(("text", "code"), [
    ("Xyzzyville, MA", "unknown_place"), ("Xyzzyville", "unknown_place"), ("Boston, ZZ", "unknown_place"),
    ("99999", "unknown_zip"), ("1234", "unknown_zip"), ("123456", "unknown_zip"), ("Boston, MA 99999", "unknown_zip"),
    ("", "unknown_place"), ("   ", "unknown_place"), ("!!!", "unknown_place"), (",", "unknown_place"),
    ("<script>alert(1)</script>", "unknown_place"), ("' OR '1'='1' --", "unknown_place"),
    ("\x00\x01\x1b[31m", "unknown_place"), ("x" * 10_240, "invalid_parameter"),
    ("\u202egnp.exe\u202c", "unknown_place"), ("\U0001d518\U0001d52b", "unknown_place"),
])
def test_nonsense_is_a_place_error_with_a_message(text, code):
    with pytest.raises(PlaceError) as caught:
        resolve_place(text)
    assert caught.value.code == code
    assert caught.value.message and "\x00" not in caught.value.message


def test_control_characters_are_dropped_and_length_is_counted_after():
    assert resolve_place("Boston,\x00MA").name == "Boston, MA"
    assert resolve_place("\x1bBoston, MA\r\n").name == "Boston, MA"
    assert resolve_place(" " * 500 + "Boston, MA").name == "Boston, MA"  # spaces collapse first
    with pytest.raises(PlaceError):
        resolve_place("a" * (MAX_PLACE + 1))


@pytest.mark.parametrize(("text", "street"), [
    ("1 Main St, Boston, MA 02115", True), ("100 Saint Louis Ave", True), ("12B Elm Street", True),
    ("Apt 4, 10 Park Ave", True), ("Route 9, 01701", True),
    ("St. Louis, MO", False), ("Boston, MA 02115", False), ("Hartford CT 06103", False), ("02115", False),
    ("Fort Worth", False),
])
def test_street_addresses_are_told_from_cities(text, street):
    assert looks_like_street_address(text) is street


class FakeGeocoder:
    """The interface the place box uses (the configured geocoder sits behind it in the app)."""

    def __init__(self, answer):
        self.answer = answer
        self.asked: list[str] = []

    def geocode_address(self, text):
        self.asked.append(text)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_a_street_address_without_a_geocoder_asks_for_a_zip_or_city():
    with pytest.raises(PlaceError) as caught:
        resolve_place("1 Main St, Boston, MA 02115")
    assert caught.value.code == "needs_geocoder"
    assert "ZIP or City, ST" in caught.value.message


def test_a_street_address_with_a_geocoder():
    geocoder = FakeGeocoder((42.3467, -71.0972))
    place = resolve_place("1 Main St,  Boston, MA 02115", geocoder)
    assert (place.lat, place.lon, place.resolved_by, place.name) == (42.3467, -71.0972, "address",
                                                                    "1 Main St, Boston, MA 02115")
    assert geocoder.asked == ["1 Main St, Boston, MA 02115"]
    assert resolve_place("Boston, MA", geocoder).resolved_by == "city"  # cities never reach the geocoder
    assert len(geocoder.asked) == 1


@pytest.mark.parametrize("answer", [None, (91.0, 0.0), (float("nan"), 0.0)])
def test_an_address_the_geocoder_cannot_place(answer):
    with pytest.raises(PlaceError) as caught:
        resolve_place("1 Nowhere Rd, Boston, MA", FakeGeocoder(answer))
    assert caught.value.code == "address_not_found"


def test_a_failing_geocoder_is_unavailable_not_bad_input():
    seen = []
    with pytest.raises(GeocoderUnavailable):
        resolve_place("1 Main St, Boston, MA", FakeGeocoder(TimeoutError("slow")), seen.append)
    assert [type(e) for e in seen] == [TimeoutError]


def test_city_keys_meet_across_spellings():
    assert city_key("St. Louis") == city_key("Saint Louis") == city_key("ST LOUIS")
    assert city_key("McLean") == city_key("Mc Lean")
    assert city_key("Coeur d'Alene") == city_key("Coeur D Alene")
    assert city_key("Cañon City") == city_key("Canon City")
