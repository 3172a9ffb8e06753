"""The listing table's places and per-code rows against the plain row-by-row answer.

Listings share a few points (as listings at one ZIP centroid do), some have several places, and
the codes are drawn so that some filters are selective and some are not. A search read from one
facet's per-code rows must equal the search that tests every row around.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from directory.search.codebook import Codebook
from directory.search.documents import ListingDoc
from directory.search.query import Place, SearchQuery, by_place_alone
from directory.search.whoosh import engine
from directory.search.whoosh import table as table_module
from directory.search.whoosh.engine import combine, evaluate
from directory.search.whoosh.table import ListingTable

CODEBOOK = Codebook.current()
POINTS = [(42.3427 + i * 0.07, -71.0922 + (i % 5) * 0.11) for i in range(12)] + [(42.30, -71.09)] * 2
NETWORKS = [3, 5, 8, 13, 21]


def spread_points(seed: int, n: int) -> list[tuple[float, float]]:
    """Street points: each its own, within about 20 miles of POINTS[0], across several latitude
    bands of the table; a few repeated (two locations at one address)."""
    rng = random.Random(seed)
    points = [(round(42.3427 + rng.uniform(-0.3, 0.3), 6), round(-71.0922 + rng.uniform(-0.4, 0.4), 6))
              for _ in range(n)]
    return points + points[:5]


SPREAD = spread_points(5, 600)


def make_docs(seed: int, n: int = 300, points: list = POINTS) -> list[ListingDoc]:
    rng = random.Random(seed)
    specialties = list(CODEBOOK.specialties[:6])
    docs = []
    for lid in range(1, n + 1):
        places = rng.sample(points, rng.choice([1, 1, 1, 2, 3]))
        docs.append(ListingDoc(
            lid=lid, kind=rng.choice(["organization", "practitioner"]), name=f"Listing {rng.randrange(50):02d}",
            accepting=rng.random() < 0.6, telehealth=rng.random() < 0.3,
            specialties=rng.sample(specialties, rng.choice([0, 1, 1, 2])),
            networks=rng.sample(NETWORKS, rng.choice([0, 1, 2, 3])),
            languages=[], services=[], places=places, concepts=[],
            name_text="", products_text="", place_text="",
        ))
    return docs


@pytest.fixture(scope="module")
def table() -> ListingTable:
    docs = make_docs(11)
    # Built in batches and joined, as the reindex does.
    return ListingTable.concat([ListingTable.build(docs[i : i + 70], CODEBOOK) for i in range(0, len(docs), 70)])


@pytest.fixture(scope="module")
def spread_table() -> ListingTable:
    """Listings at street points: most places hold one or two listings, so the blocks of places
    that a search by place alone adds up hold many places, some of them cut by the radius."""
    docs = make_docs(12, n=500, points=SPREAD)
    return ListingTable.concat([ListingTable.build(docs[i : i + 120], CODEBOOK) for i in range(0, len(docs), 120)])


def test_places_group_identical_points(table):
    starts, ends = table.place_start[:-1], table.place_start[1:]
    assert len(table.place_lat) == len(set(POINTS))
    for k, (a, b) in enumerate(zip(starts, ends, strict=True)):
        assert b > a
        assert set(table.row_lat[a:b]) == {table.place_lat[k]}
        assert set(table.row_lon[a:b]) == {table.place_lon[k]}


@settings(max_examples=60, deadline=None)
@given(point=st.sampled_from(POINTS), radius=st.sampled_from([1, 3, 5, 8, 15, 40]),
       facet=st.sampled_from(["specialties", "networks"]), picks=st.lists(st.integers(0, 7), max_size=3))
def test_rows_of_codes_equal_rows_filtered(table, point, radius, facet, picks):
    codes = sorted(set(picks))
    rows, chord2 = table.rows_within(*point, radius)
    bits = table.specialty_set if facet == "specialties" else table.network_set
    held = bits.any_of(table.row_pos[rows], codes) if codes else np.zeros(len(rows), dtype=bool)
    order = np.argsort(rows[held])
    only_rows, only_chord2 = table.rows_within(*point, radius, (facet, codes))
    assert only_rows.tolist() == rows[held][order].tolist()
    assert np.array_equal(only_chord2, chord2[held][order])


@settings(max_examples=40, deadline=None)
@given(point=st.sampled_from(POINTS), radius=st.sampled_from([2, 6, 12, 30]),
       specialties=st.lists(st.sampled_from(CODEBOOK.specialties[:6]), max_size=2, unique=True),
       networks=st.lists(st.sampled_from(NETWORKS + [99]), max_size=2, unique=True),
       sort=st.sampled_from(["distance", "name"]))
def test_search_is_the_same_with_and_without_per_code_rows(table, set_engine, point, radius,
                                                           specialties, networks, sort):
    query = SearchQuery(place=Place(*point, radius), specialties=tuple(specialties),
                        networks=tuple(networks), sort=sort, per_page=15)
    answers = []
    for share in (10**9, 1):  # never read per-code rows; read them whenever a filter is given
        set_engine("SELECTIVE_SHARE", share)
        result = combine([evaluate(table, query, CODEBOOK, None)], query)
        answers.append((result.total, [(h.lid, h.distance_mi) for h in result.hits], result.facets))
    assert answers[0] == answers[1]


@settings(max_examples=60, deadline=None)
@given(point=st.sampled_from(POINTS), radius=st.sampled_from([1, 4, 9, 20, 60]),
       dead_share=st.sampled_from([0.0, 0.3, 0.9]), page=st.integers(1, 6),
       per_page=st.sampled_from([1, 7, 40]), seed=st.integers(0, 10**6))
def test_place_alone_rollup_equals_reading_every_row(table, set_engine, point, radius,
                                                     dead_share, page, per_page, seed):
    """Counts and facets from the rollup of blocks of places (with away rows and listings changed since the
    snapshot taken back out), and the page from the nearest places, equal the row-by-row answer."""
    rng = np.random.default_rng(seed)
    alive = rng.random(table.size) >= dead_share if dead_share else None
    query = SearchQuery(place=Place(*point, radius), sort="distance", page=page, per_page=per_page)
    answers = []
    for place_alone in (by_place_alone, lambda query: False):  # the rollup, then every row
        set_engine("by_place_alone", place_alone)
        matches = evaluate(table, query, CODEBOOK, None, alive)
        result = combine([matches], query)
        answers.append((result.total, [(h.lid, h.distance_mi) for h in result.hits], result.facets))
    assert answers[0] == answers[1]


def test_blocks_cover_the_places_in_order(spread_table):
    """Blocks partition the places in row order, stay within one latitude band, and each block's
    rollup is the facet vector of the listings at home there."""
    t = spread_table
    assert t.block_start[0] == 0 and t.block_start[-1] == len(t.place_lat)
    assert (np.diff(t.block_start) > 0).all()
    assert len(t.block_start) - 1 > 10  # many places to a block, many blocks
    bands = table_module.band_of(t.place_lat)
    for k in range(len(t.block_start) - 1):
        a, b = t.block_start[k], t.block_start[k + 1]
        assert len(set(bands[a:b].tolist())) == 1
        home = np.flatnonzero((t.home_place >= a) & (t.home_place < b))
        assert t.block_rollup[k].tolist() == engine._vector(t, home).tolist()


@settings(max_examples=60, deadline=None)
@given(point=st.sampled_from(SPREAD[:40]), radius=st.sampled_from([0.5, 2, 5, 11, 25, 60]),
       dead_share=st.sampled_from([0.0, 0.3, 0.9]), page=st.integers(1, 6),
       per_page=st.sampled_from([1, 7, 40]), seed=st.integers(0, 10**6))
# Most listings gone: the nearest places ordered first hold too few alive, all are ordered then.
@example(point=SPREAD[0], radius=60, dead_share=0.9, page=6, per_page=7, seed=3)
def test_place_alone_at_street_points_equals_reading_every_row(spread_table, set_engine, point, radius,
                                                               dead_share, page, per_page, seed):
    """As above, over street points: whole blocks from their rollup, cut blocks listing by listing,
    and the page from the nearest few places (ordered in part, then all when too few are alive)."""
    rng = np.random.default_rng(seed)
    alive = rng.random(spread_table.size) >= dead_share if dead_share else None
    query = SearchQuery(place=Place(*point, radius), sort="distance", page=page, per_page=per_page)
    answers = []
    for place_alone in (by_place_alone, lambda query: False):
        set_engine("by_place_alone", place_alone)
        result = combine([evaluate(spread_table, query, CODEBOOK, None, alive)], query)
        answers.append((result.total, [(h.lid, h.distance_mi) for h in result.hits], result.facets))
    assert answers[0] == answers[1]


@pytest.fixture(scope="module")
def set_engine():
    """Set attributes of the engine module for a while (hypothesis runs many cases per test, so
    pytest's function-scoped monkeypatch does not fit); restored at the end of the module."""
    saved = {}

    def set_attribute(name: str, value) -> None:
        saved.setdefault(name, getattr(engine, name))
        setattr(engine, name, value)

    yield set_attribute
    for name, value in saved.items():
        setattr(engine, name, value)


@pytest.mark.parametrize("offset", [0, 1_000_000])
def test_positions_of_listing_ids(offset):
    """Through the map of every id (ids from 1) and through the sorted ids (a few listings with
    large ids, as in the overlay of recent changes): the same positions, -1 for ids not held."""
    docs = make_docs(13, n=40)
    for doc in docs:
        doc.lid = (doc.lid * 7) % 41 + offset  # not in position order
    built = ListingTable.build(docs, CODEBOOK)
    asked = np.array([d.lid for d in docs] + [0, -3, offset + 500, 2**40], dtype=np.int64)
    expected = [int(np.flatnonzero(built.lids == lid)[0]) if lid in built.lids else -1 for lid in asked]
    assert built.positions_of(asked).tolist() == expected
    assert isinstance(built._pos_of_lid, tuple) == (offset > 0)
