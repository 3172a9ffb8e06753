"""Offline geography: ZIP lookup, great-circle miles (against geopy) and the search bounding box."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import zipcodes
from geopy.distance import great_circle
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from directory.geo import (
    EARTH_RADIUS_MI,
    MAX_RADIUS_MI,
    ZipError,
    ZipPlace,
    bounding_box,
    geopy_miles,
    great_circle_mi,
    is_known_zip,
    lookup_zip,
    normalize_zip,
)

# -- lookup_zip ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, city, state",
    [
        ("02115", "Boston", "MA"),
        ("02115-1234", "Boston", "MA"),
        ("021151234", "Boston", "MA"),
        (" 02115 ", "Boston", "MA"),
        ("00501", "Holtsville", "NY"),
        ("00601", "Adjuntas", "PR"),
        ("00680", "Mayaguez", "PR"),
        ("99501", "Anchorage", "AK"),
        ("96813", "Honolulu", "HI"),
        ("99546", "Adak", "AK"),
    ],
)
def test_lookup_zip_known(text, city, state):
    place = lookup_zip(text)
    row = zipcodes.matching(text.strip()[:5])[0]
    assert place.zip == text.strip()[:5]
    assert place.city == city
    assert place.state == state
    assert place.lat == pytest.approx(float(row["lat"]), abs=0)
    assert place.lon == pytest.approx(float(row["long"]), abs=0)
    assert is_known_zip(text)


def test_leading_zeros_are_kept():
    assert lookup_zip("00501").zip == "00501"
    assert lookup_zip("00601-0001").zip == "00601"
    assert normalize_zip("006801234") == "00680"
    # Puerto Rico is south of every state but Hawaii; Holtsville is on Long Island.
    assert 17.5 < lookup_zip("00601").lat < 18.6
    assert 40.5 < lookup_zip("00501").lat < 41.2


def test_zip_plus_four_forms_agree():
    assert lookup_zip("02115") == lookup_zip("02115-1234") == lookup_zip("021151234")


@pytest.mark.parametrize("text", ["99999", "00000"])
def test_unknown_zip_raises(text):
    with pytest.raises(ZipError):
        lookup_zip(text)
    assert not is_known_zip(text)


@pytest.mark.parametrize(
    "text",
    ["1234", "ABCDE", "", "   ", "02115-12", "021151", "02115-", "02115 1234", "0211a", "123456789012", None],
)
def test_malformed_zip_raises(text):
    with pytest.raises(ZipError):
        lookup_zip(text)
    assert not is_known_zip(text)


@pytest.mark.parametrize("text", ["０２１１５", "٠٢١١٥", "0211５", "02115-１２３４", "²0115"])
def test_zip_in_digits_of_other_scripts_is_malformed(text):
    """Only ASCII digits are a ZIP: others reached the gazetteer's native code, which panicked."""
    with pytest.raises(ZipError):
        lookup_zip(text)
    assert not is_known_zip(text)


@pytest.mark.parametrize("url, status", [
    ("/api/v1/search?zip=٠٢١١٥", 400), ("/api/v1/zip/0211５", 404), ("/?zip=０２１１５", 200),
])
def test_zip_in_other_digits_is_a_clear_answer_over_http(client, url, status):
    response = client.get(url)
    assert response.status_code == status
    if status == 200:
        assert "ZIP" in response.get_data(as_text=True)


def test_zip_error_is_a_value_error():
    assert issubclass(ZipError, ValueError)


def _decommissioned_zip() -> str:
    rows = [z for z in zipcodes.list_all() if not z["active"] and float(z["lat"])]
    rows.sort(key=lambda z: z["zip_code"])
    assert rows, "the gazetteer has no decommissioned ZIP with coordinates"
    return rows[0]["zip_code"]


def test_decommissioned_zip_raises():
    zip5 = _decommissioned_zip()
    rows = zipcodes.matching(zip5)
    assert rows and not any(r["active"] for r in rows)
    assert float(rows[0]["lat"]) != 0.0
    with pytest.raises(ZipError):
        lookup_zip(zip5)
    with pytest.raises(ZipError):
        lookup_zip(zip5 + "-0001")


def test_zip_without_coordinates_raises():
    rows = sorted(
        (z for z in zipcodes.list_all() if float(z["lat"]) == 0.0 and float(z["long"]) == 0.0),
        key=lambda z: (not z["active"], z["zip_code"]),
    )
    assert rows, "the gazetteer has no ZIP at 0,0"
    zip5 = rows[0]["zip_code"]
    assert rows[0]["active"]  # an active ZIP, refused only because it has no coordinates
    with pytest.raises(ZipError):
        lookup_zip(zip5)


def test_every_zip_of_the_gazetteer_is_found_as_the_gazetteer_says():
    """The ZIP table read apart (geo.zip_table, found by binary search) answers every ZIP of the
    gazetteer as its own rows do: the active ones with coordinates placed, the others refused."""
    rows = zipcodes.list_all()
    placed = 0
    for row in rows:
        lat, lon = float(row["lat"]), float(row["long"])
        if row["active"] and not (lat == 0.0 and lon == 0.0):
            expected = ZipPlace(row["zip_code"], row["city"].title(), row["state"], lat, lon)
            assert lookup_zip(row["zip_code"]) == expected
            placed += 1
        else:
            with pytest.raises(ZipError):
                lookup_zip(row["zip_code"])
    assert placed > 40_000
    for missing in ("00000", "00499", "99999"):
        if not zipcodes.matching(missing):
            with pytest.raises(ZipError):
                lookup_zip(missing)


def test_a_process_reading_the_gazetteer_keeps_only_its_tables():
    """The gazetteer's rows are read in a child process: a process that has placed ZIPs and cities
    keeps ~40 MB for them, not the ~175 MB the zipcodes package holds once it has listed its rows
    (its database, then every row as a dict, for the life of the process)."""
    script = """
def anon():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon"):
            return int(line.split()[1]) // 1024
from directory.geo import lookup_zip
from directory.places import resolve_place
before = anon()
lookup_zip("02115"); lookup_zip("99501")
resolve_place("Boston, MA"); resolve_place("Saint Louis MO")
print(anon() - before)
"""
    grown = int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                               timeout=120).stdout.split()[-1])
    assert grown < 60, f"{grown} MB kept for the gazetteer"


# -- great_circle_mi -------------------------------------------------------------------------------

lats = st.floats(-90, 90, allow_nan=False, allow_infinity=False)
lons = st.floats(-180, 180, allow_nan=False, allow_infinity=False)


def _gc(a, b) -> float:
    return float(great_circle_mi(a[0], a[1], np.array([b[0]]), np.array([b[1]]))[0])


@settings(max_examples=300, deadline=None)
@given(lats, lons, lats, lons)
def test_great_circle_equals_geopy(lat1, lon1, lat2, lon2):
    expected = great_circle((lat1, lon1), (lat2, lon2)).miles
    assert abs(_gc((lat1, lon1), (lat2, lon2)) - expected) <= 1e-9
    assert abs(geopy_miles((lat1, lon1), (lat2, lon2)) - expected) <= 1e-9


@settings(max_examples=100, deadline=None)
@given(lats, lons)
def test_great_circle_identical_points_is_zero(lat, lon):
    assert _gc((lat, lon), (lat, lon)) == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(
    st.floats(-89.9, 89.9), lons,
    st.floats(-1e-3, 1e-3), st.floats(-1e-3, 1e-3),
)
def test_great_circle_antipodal_points_equal_geopy(lat, lon, dlat, dlon):
    other = (max(-90.0, min(90.0, -lat + dlat)), ((lon + 180.0 + dlon + 180.0) % 360.0) - 180.0)
    expected = great_circle((lat, lon), other).miles
    got = _gc((lat, lon), other)
    assert abs(got - expected) <= 1e-9
    half_circumference = math.pi * EARTH_RADIUS_MI
    assert got == pytest.approx(half_circumference, rel=1e-3)


def test_great_circle_vectorised_many_pairs():
    rng = np.random.default_rng(20240501)
    n = 2000
    lat0, lon0 = 42.3429, -71.1003
    lat = rng.uniform(-90, 90, n)
    lon = rng.uniform(-180, 180, n)
    got = great_circle_mi(lat0, lon0, lat, lon)
    expected = np.array([great_circle((lat0, lon0), (a, b)).miles for a, b in zip(lat, lon, strict=True)])
    assert got.shape == (n,)
    assert np.max(np.abs(got - expected)) <= 1e-9


def test_great_circle_known_distance():
    boston, honolulu = lookup_zip("02115"), lookup_zip("96813")
    got = _gc((boston.lat, boston.lon), (honolulu.lat, honolulu.lon))
    assert 5050 < got < 5150  # Boston to Honolulu is about 5,100 miles
    assert abs(got - great_circle((boston.lat, boston.lon), (honolulu.lat, honolulu.lon)).miles) < 1e-9


def test_great_circle_across_the_antimeridian_is_short():
    # 1 degree of longitude apart, on either side of 180.
    got = _gc((51.85, 179.5), (51.85, -179.5))
    assert got == pytest.approx(great_circle((51.85, 179.5), (51.85, -179.5)).miles, abs=1e-9)
    assert got < 50


# -- bounding_box ----------------------------------------------------------------------------------


def _lon_inside(lon: float, min_lon: float, max_lon: float, tol: float) -> bool:
    return any(min_lon - tol <= lon + shift <= max_lon + tol for shift in (-360.0, 0.0, 360.0))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.floats(-60, 70),
    lons,
    st.floats(1, MAX_RADIUS_MI),
    st.floats(0, 360, exclude_max=True),
    st.floats(0, 1),
)
def test_bounding_box_contains_the_circle(lat, lon, radius, bearing, fraction):
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius)
    point = great_circle(miles=radius * fraction).destination((lat, lon), bearing)
    assume(great_circle((lat, lon), point).miles <= radius)
    tol = 1e-9  # floating point noise at the tangent points
    assert min_lat - tol <= point.latitude <= max_lat + tol
    assert _lon_inside(point.longitude, min_lon, max_lon, tol), (point, (min_lat, max_lat, min_lon, max_lon))


@settings(max_examples=200, deadline=None)
@given(st.floats(-60, 70), lons, st.floats(1, MAX_RADIUS_MI))
def test_bounding_box_is_centred_and_tight(lat, lon, radius):
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius)
    assert min_lat < lat < max_lat
    assert min_lon < lon < max_lon
    assert max_lat - lat == pytest.approx(lat - min_lat)
    assert max_lon - lon == pytest.approx(lon - min_lon)
    # North and south edges are exactly the radius away.
    assert great_circle((lat, lon), (max_lat, lon)).miles == pytest.approx(radius, rel=1e-9)
    assert great_circle((lat, lon), (min_lat, lon)).miles == pytest.approx(radius, rel=1e-9)
    # The widest point of the circle (bearing east) touches the east edge, not far inside it.
    east = great_circle(miles=radius).destination((lat, lon), 90)
    west = great_circle(miles=radius).destination((lat, lon), 270)
    widest = max(
        abs(((east.longitude - lon + 180) % 360) - 180),
        abs(((west.longitude - lon + 180) % 360) - 180),
    )
    assert widest <= max_lon - lon + 1e-9


def test_bounding_box_near_a_pole_spans_every_longitude():
    min_lat, max_lat, min_lon, max_lon = bounding_box(89.0, 10.0, 200)
    assert (min_lon, max_lon) == (-180.0, 180.0)
    assert max_lat == 90.0
    min_lat, max_lat, min_lon, max_lon = bounding_box(-89.5, -100.0, 100)
    assert (min_lon, max_lon) == (-180.0, 180.0)
    assert min_lat == -90.0


def test_bounding_box_crosses_the_antimeridian_near_adak():
    adak = lookup_zip("99546")
    min_lat, max_lat, min_lon, max_lon = bounding_box(adak.lat, adak.lon, 300)
    assert min_lon < -180 < max_lon
    # A point just across the antimeridian, within the radius, is inside once wrapped.
    point = great_circle(miles=250).destination((adak.lat, adak.lon), 270)
    assert point.longitude > 0
    assert _lon_inside(point.longitude, min_lon, max_lon, 0)


def test_the_gazetteer_is_read_here_when_no_child_process_can_start(monkeypatch, caplog):
    """Where a child process cannot be started, the table is read in this process, and said so."""
    from directory import geo

    class Refusing:
        def __init__(self, *args, **kwargs):
            raise OSError("no more processes")

    monkeypatch.setattr(geo, "ProcessPoolExecutor", Refusing)
    assert geo.computed_apart(_first_active_zip) == _first_active_zip()
    assert "reading it here" in caplog.text


def _first_active_zip() -> str:
    return min(row["zip_code"] for row in zipcodes.similar_to("005") if row["active"])


def test_the_zip_table_is_kept_in_a_file_that_the_next_process_reads(tmp_path, monkeypatch, caplog):
    """The first process reads the gazetteer (apart) and keeps the table in DIRECTORY_CACHE_DIR;
    the next reads that file instead (no child process); a damaged file is read past and replaced."""
    from directory import geo

    monkeypatch.setenv("DIRECTORY_CACHE_DIR", str(tmp_path))
    original = geo.zip_table()  # this process's table (from wherever it came)
    geo.zip_table.cache_clear()
    try:
        path = geo.zip_table_file()
        assert path.parent == tmp_path and not path.exists()
        first = geo.zip_table()
        assert path.exists()
        geo.zip_table.cache_clear()

        def no_child(function):
            raise AssertionError("the gazetteer was read again")

        monkeypatch.setattr(geo, "computed_apart", no_child)
        second = geo.zip_table()
        for a, b, c in zip(original, first, second, strict=True):
            assert list(a) == list(b) == list(c)
        assert second[0].dtype == original[0].dtype and isinstance(second[3], tuple)

        geo.zip_table.cache_clear()
        path.write_bytes(b"not a table")
        monkeypatch.undo()
        monkeypatch.setenv("DIRECTORY_CACHE_DIR", str(tmp_path))
        assert list(geo.zip_table()[0]) == list(original[0])
        assert "ignoring the ZIP table" in caplog.text
        geo.zip_table.cache_clear()
        assert geo._load_zip_table(path) is not None  # replaced by a good one
    finally:
        geo.zip_table.cache_clear()
