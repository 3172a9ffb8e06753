"""Radius search through the JSON API equals a brute-force geopy computation over the database.

One data set per module (about 150 listings at about 60 real ZIPs from New England to the
Aleutians): the first part is built into the snapshot by `reindex`, the rest (and some updates,
deactivations and deletions of snapshot listings) live in the overlay, so both paths are checked.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
import zipcodes
from geopy.distance import great_circle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlmodel import Session

from directory.db import get_engine
from directory.geo import lookup_zip
from directory.models import Listing, Location
from directory.search import rebuild_index
from directory.search.ordering import name_key
from directory.search.sync import check_index
from directory.services.listings import (
    ListingInput,
    LocationInput,
    delete_listing,
    set_active,
    update_listing,
)
from tests.backends import close_app, make_app
from tests.factories import Factory

FIXED_ZIPS = [
    "02115", "02116", "02215", "02138", "01002", "01060", "03101", "04101", "05401", "06510",
    "02903", "10001", "10027", "12207", "14201", "00501", "00601", "00680", "00901", "99501",
    "99546", "99547", "99660", "99742", "96813", "96720", "96766",
]
STATES = ["MA", "CT", "RI", "NH", "VT", "ME", "NY", "PR", "AK", "HI"]
PER_STATE = 4
WORDS = [
    "Harbor", "Summit", "Maple", "Beacon", "Cedar", "Aurora", "Pioneer", "Lakeside",
    "Granite", "Island", "Tundra", "Coral", "Bay", "Valley", "Northern", "Ridge",
]


def _active(zip5: str) -> bool:
    try:
        lookup_zip(zip5)
    except ValueError:
        return False
    return True


def choose_zips() -> list[str]:
    """The fixed ZIPs plus a few evenly spaced active ZIPs per state (deterministic)."""
    chosen = list(FIXED_ZIPS)
    for state in STATES:
        candidates = sorted(z["zip_code"] for z in zipcodes.filter_by(state=state) if _active(z["zip_code"]))
        step = max(1, len(candidates) // PER_STATE)
        chosen.extend(candidates[step // 2 :: step][:PER_STATE])
    return [z for z in dict.fromkeys(chosen) if _active(z)]


ZIPS = choose_zips()
ZIP_PLACES = [lookup_zip(z) for z in ZIPS]


class World:
    def __init__(self, app, session, factory):
        self.app = app
        self.session = session
        self.factory = factory
        self.client = app.test_client()
        self.engine = get_engine(app)
        self.two_place_id: int | None = None
        self.far_pair_id: int | None = None

    # -- brute force ----------------------------------------------------------------------------

    def places(self) -> dict[int, tuple[str, list[tuple[float, float]]]]:
        with Session(self.engine) as session:
            active = select(Listing.id, Listing.name).where(Listing.active.is_(True))
            names = dict(session.execute(active).all())
            places: dict[int, list[tuple[float, float]]] = defaultdict(list)
            rows = session.execute(select(Location.listing_id, Location.lat, Location.lon)).all()
            for lid, lat, lon in rows:
                if lid in names:
                    places[lid].append((lat, lon))
        return {lid: (names[lid], places[lid]) for lid in names if places[lid]}

    def expected(self, lat: float, lon: float, radius: float) -> list[tuple[int, float]]:
        found = []
        for lid, (name, places) in self.places().items():
            miles = min(great_circle((lat, lon), p).miles for p in places)
            if miles <= radius:
                found.append((miles, name_key(name), lid))
        found.sort()
        return [(lid, round(miles, 1)) for miles, _, lid in found]

    # -- API ------------------------------------------------------------------------------------

    def get(self, **params) -> dict:
        response = self.client.get("/api/v1/search", query_string=params)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def fetch_all(self, per_page: int = 100, **params) -> tuple[int, list[dict]]:
        results: list[dict] = []
        page, total = 1, None
        while True:
            body = self.get(page=page, per_page=per_page, **params)
            assert body["page"] == page and body["per_page"] == per_page
            if total is None:
                total = body["total"]
            assert body["total"] == total, "total changed between pages"
            results.extend(body["results"])
            if len(results) >= total or not body["results"]:
                break
            page += 1
        assert len(results) == total
        return total, results


def _data(factory_serial: int, zips: list[str], name: str, kind: str, npi: str | None = None) -> ListingInput:
    from directory.npi import make_npi

    return ListingInput(
        kind=kind,
        npi=npi or make_npi(factory_serial, individual=kind == "practitioner"),
        name=name,
        specialties=["261QI0500X" if kind == "organization" else "207RR0500X"],
        locations=[LocationInput(address=f"{i + 1} Main St", zip=z) for i, z in enumerate(zips)],
        first_name="Ada" if kind == "practitioner" else None,
        last_name="Lovelace" if kind == "practitioner" else None,
    )


@pytest.fixture(scope="module")
def world(backend, tmp_path_factory, request):
    server = request.getfixturevalue("postgres_server") if backend == "postgres" else None
    app = make_app(backend, tmp_path_factory.mktemp("radius"), server)
    session = Session(get_engine(app), expire_on_commit=False)
    factory = Factory(app, session)
    w = World(app, session, factory)
    n = len(ZIPS)

    def make(i: int, **extra):
        kind = "practitioner" if i % 5 == 4 else "organization"
        suffix = "Rheumatology" if kind == "practitioner" else "Infusion"
        name = extra.pop("name", f"{WORDS[i % len(WORDS)]} {suffix}")
        zips = extra.pop("zips", [ZIPS[i % n]])
        return factory.listing(sync=False, kind=kind, name=name, zips=zips, **extra)

    made = [make(i) for i in range(100)]
    # Same place, same name (case-folded): order falls to the id.
    made.append(make(100, name="Twin Infusion", zips=["02115"]))
    made.append(make(101, name="twin infusion", zips=["02115"]))
    made.append(make(102, name="TWIN INFUSION", zips=["02115"]))
    factory.sync()
    rebuild_index(app)  # the snapshot holds these

    # The overlay: new listings, and changes to snapshot listings.
    for i in range(103, 150):
        extra = {}
        if i % 9 == 0:
            extra["zips"] = [ZIPS[i % n], ZIPS[(i * 7 + 3) % n]]
        made.append(make(i, **extra))
    w.two_place_id = make(150, name="Two Place Infusion", zips=["02115", "02116"]).id
    w.far_pair_id = make(151, name="Boston Honolulu Infusion", zips=["02115", "96813"]).id
    moved = made[3]
    update_listing(session, moved.id, _data(0, ["99546"], "Moved To Adak", "organization", moved.npi), "test")
    set_active(session, made[5].id, False, "test")
    set_active(session, made[6].id, False, "test")
    set_active(session, made[6].id, True, "test")  # restored
    delete_listing(session, made[7].id, "test")
    session.commit()
    factory.sync()

    with app.app_context():
        from directory.search import get_searcher

        assert check_index(w.engine, get_searcher(app)).ok
    yield w
    session.close()
    close_app(app)


def assert_matches_brute_force(world: World, lat: float, lon: float, radius: float, **params):
    expected = world.expected(lat, lon, radius)
    total, results = world.fetch_all(lat=repr(lat), lon=repr(lon), radius=repr(radius), **params)
    got = [(r["id"], r["distance_mi"]) for r in results]
    assert got == expected, (lat, lon, radius)
    assert all(r["distance_mi"] <= radius + 0.05 for r in results)
    assert len({r["id"] for r in results}) == len(results)


def test_data_set_spans_the_country(world):
    states = {p.state for p in ZIP_PLACES}
    assert {"MA", "NY", "PR", "AK", "HI"} <= states
    assert len(ZIPS) >= 55
    assert len(world.places()) >= 145


@pytest.mark.parametrize("radius", [1, 5, 25, 100, 500])
def test_zip_centres_match_brute_force(world, radius):
    for place in ZIP_PLACES:
        expected = world.expected(place.lat, place.lon, radius)
        total, results = world.fetch_all(zip=place.zip, radius=str(radius))
        assert [(r["id"], r["distance_mi"]) for r in results] == expected, (place.zip, radius)
        assert total == len(expected)


@pytest.mark.parametrize(
    "lat, lon, radius",
    [
        (42.3429, -71.1003, 25),  # Fenway
        (42.0, -71.5, 60.5),
        (41.0, -70.0, 150),
        (18.2, -66.5, 40),  # Puerto Rico
        (21.0, -157.0, 250),  # Hawaiian islands
        (61.2, -149.9, 500),  # Anchorage
        (51.85, 179.9, 500),  # west of the antimeridian: Adak and Atka lie east of it
        (52.0, 178.0, 300),
        (51.9, -179.99, 200),
        (57.0, -170.5, 120),  # Pribilofs
        (63.5, -171.0, 80),  # St Lawrence Island
        (30.0, -40.0, 500),  # mid-Atlantic: nothing
        (-33.9, 151.2, 500),  # Sydney: nothing
        (89.9, 0.0, 500),  # near the pole: nothing, but the box spans every longitude
    ],
)
def test_lat_lon_centres_match_brute_force(world, lat, lon, radius):
    assert_matches_brute_force(world, lat, lon, radius)


def test_antimeridian_search_finds_the_aleutians(world):
    _, results = world.fetch_all(lat="51.85", lon="179.5", radius="300")
    zips = {r["location"]["zip"] for r in results}
    assert "99546" in zips  # Adak, at -177.09: across the antimeridian from the centre
    assert all(r["location"]["lon"] < 0 for r in results)


def test_updated_deactivated_and_deleted_snapshot_listings(world):
    _, results = world.fetch_all(zip="99546", radius="1")
    names = {r["name"] for r in results}
    assert "Moved To Adak" in names
    assert all(r["distance_mi"] == 0.0 for r in results)
    with Session(world.engine) as session:
        inactive = set(session.execute(select(Listing.id).where(Listing.active.is_(False))).scalars())
    assert inactive
    _, everything = world.fetch_all(lat="40", lon="-100", radius="500")  # nothing near Kansas
    assert everything == []
    for place in ZIP_PLACES[:10]:
        _, results = world.fetch_all(zip=place.zip, radius="500")
        assert not inactive & {r["id"] for r in results}


def test_two_place_listing_returned_once_at_nearest_place(world):
    lid = world.far_pair_id
    for zip5 in ("02115", "96813"):
        _, results = world.fetch_all(zip=zip5, radius="10")
        mine = [r for r in results if r["id"] == lid]
        assert len(mine) == 1
        assert mine[0]["distance_mi"] == 0.0
        assert mine[0]["location"]["zip"] == zip5

    lid = world.two_place_id
    boston, back_bay = lookup_zip("02115"), lookup_zip("02116")
    for centre in (boston, back_bay):
        _, results = world.fetch_all(zip=centre.zip, radius="25")
        mine = [r for r in results if r["id"] == lid]
        assert len(mine) == 1 and mine[0]["distance_mi"] == 0.0
        assert mine[0]["location"]["zip"] == centre.zip
    # From Amherst both places are in range; the nearer one counts.
    amherst = lookup_zip("01002")
    nearest = min(
        great_circle((amherst.lat, amherst.lon), (p.lat, p.lon)).miles for p in (boston, back_bay)
    )
    _, results = world.fetch_all(zip="01002", radius="200")
    mine = [r for r in results if r["id"] == lid]
    assert len(mine) == 1
    assert mine[0]["distance_mi"] == round(nearest, 1)


def test_same_place_ties_order_by_name_then_id(world):
    _, results = world.fetch_all(zip="02115", radius="1")
    twins = [r for r in results if r["name"].casefold() == "twin infusion"]
    assert len(twins) == 3
    assert [r["id"] for r in twins] == sorted(r["id"] for r in twins)
    keys = [(r["distance_mi"], r["name"].casefold()) for r in results]
    assert keys == sorted(keys)


def test_results_never_exceed_the_radius(world):
    for radius in (1, 3, 12.5, 40, 99.9):
        for place in ZIP_PLACES[::3]:
            _, results = world.fetch_all(zip=place.zip, radius=str(radius))
            for r in results:
                loc = r["location"]
                assert great_circle((place.lat, place.lon), (loc["lat"], loc["lon"])).miles <= radius
                assert r["distance_mi"] <= radius + 0.05


@pytest.mark.parametrize(
    "params",
    [
        {"zip": "02115", "radius": "100"},
        {"zip": "02115", "radius": "100", "sort": "name"},
        {"zip": "02115", "radius": "100", "sort": "relevance"},
        {"zip": "02115", "radius": "100", "sort": "relevance", "q": "infusion"},
        {"zip": "10001", "radius": "300", "kind": "organization"},
        {"lat": "42.0", "lon": "-72.0", "radius": "250"},
        {"q": "infusion", "sort": "name"},
        {"q": "rheumatology"},
        {},
    ],
)
def test_paging_is_stable(world, params):
    total, whole = world.fetch_all(per_page=100, **params)
    paged_total, paged = world.fetch_all(per_page=7, **params)
    assert total == paged_total
    assert total > 7, "the case should span several pages"
    assert [r["id"] for r in paged] == [r["id"] for r in whole]
    assert len({r["id"] for r in paged}) == len(paged)
    # A page past the end is empty, with the same total.
    body = world.get(page=total // 7 + 2, per_page=7, **params)
    assert body["results"] == [] and body["total"] == total


CENTRES = [(p.lat, p.lon) for p in ZIP_PLACES]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    centre=st.sampled_from(CENTRES),
    dlat=st.floats(-2.0, 2.0),
    dlon=st.floats(-4.0, 4.0),
    radius=st.floats(1, 500),
)
def test_random_centres_match_brute_force(world, centre, dlat, dlon, radius):
    lat = max(-90.0, min(90.0, centre[0] + dlat))
    lon = ((centre[1] + dlon + 180.0) % 360.0) - 180.0
    assert_matches_brute_force(world, lat, lon, radius)


def test_radius_edge_agrees_with_geopy(world):
    """A listing exactly at the radius is in; a hair beyond it is out (geopy decides)."""
    places = world.places()
    checked = 0
    for centre in ZIP_PLACES[::4]:
        for lid, (_, spots) in sorted(places.items())[::11]:
            miles = min(great_circle((centre.lat, centre.lon), p).miles for p in spots)
            if not 1 <= miles <= 500:
                continue
            for radius in (miles, miles * (1 + 1e-12), miles * (1 - 1e-11), miles - 1e-6):
                if not 1 <= radius <= 500:
                    continue
                _, results = world.fetch_all(lat=repr(centre.lat), lon=repr(centre.lon), radius=repr(radius))
                found = lid in {r["id"] for r in results}
                assert found == (miles <= radius), (centre.zip, lid, miles, radius)
                checked += 1
    assert checked > 40
