"""Both backends over the same database give the same answers: ids in the same order, totals,
facet counts, scores and distances, for a few hundred varied queries, before and after edits."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from directory import create_app, demo
from directory.db import get_engine
from directory.geo import lookup_zip
from directory.models import IndexChange, Listing, Location, Network, Practitioner
from directory.search import get_searcher, rebuild_index
from directory.search.documents import load_docs
from directory.search.postgres.cells import home_cells
from directory.search.postgres.rows import rollup_tags
from directory.search.postgres.tables import ROLLUP, TABLE
from directory.search.query import Place, SearchQuery
from directory.search.sync import apply_pending, check_index
from directory.services.listings import set_active, update_listing
from tests.backends import close_app, make_app
from tests.search.helpers import listing_input

pytestmark = pytest.mark.backends("postgres")  # needs the server; compares against Whoosh itself

CODES = ["207RR0500X", "2084N0400X", "207K00000X", "261QI0500X", "3336H0001X", "207N00000X"]
WORDS = ["ivig", "myositis", "dermatomyositis", "infusion", "neurology", "rheumatolgy", "gammagard",
         "immunology", "home infusion", "CIDP", "skin", "muscle weakness", "the", "clinic"]
ZIPS = ["02115", "10016", "60611", "94110", "33136", "77030", "98104", "30303", "85006", "99546"]


@pytest.fixture(scope="module")
def pair(backend, tmp_path_factory, request):
    """(Whoosh app, PostgreSQL app): one database, two indexes."""
    server = request.getfixturevalue("postgres_server")
    folder = tmp_path_factory.mktemp("agree")
    pg = make_app("postgres", folder, server)
    whoosh = create_app({**{k: pg.config[k] for k in ("DATABASE_URL", "SECRET_KEY")}, "TESTING": True,
                         "INDEX_DIR": str(folder / "whoosh"), "SEARCH_BACKEND": "whoosh"})
    with pg.app_context():
        demo.generate(get_engine(pg), count=1500, seed=11, today=date(2026, 1, 1))
    for app in (pg, whoosh):
        with app.app_context():
            rebuild_index(app)
    yield whoosh, pg
    close_app(whoosh)
    close_app(pg)


def vocabulary(app) -> tuple[list[str], list[int]]:
    with Session(get_engine(app)) as session:
        names = [n for n in session.execute(select(Practitioner.last_name).limit(400)).scalars() if len(n) >= 5]
        networks = list(session.execute(select(Network.id).order_by(Network.id)).scalars())
    return names, networks


def typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def queries(app, n: int, seed: int) -> list[SearchQuery]:
    rng = random.Random(seed)
    names, networks = vocabulary(app)
    out = [*place_alone(n // 3, seed)]
    for i in range(n):
        args: dict = {"per_page": rng.choice([5, 20, 100]), "page": rng.choice([1, 1, 1, 2, 3])}
        if rng.random() < 0.7:
            z = lookup_zip(rng.choice(ZIPS))
            args["place"] = Place(z.lat + rng.uniform(-0.3, 0.3), z.lon + rng.uniform(-0.3, 0.3),
                                  rng.choice([5, 10, 25, 50, 100, 250]))
        words = []
        if rng.random() < 0.5:
            words.append(rng.choice(WORDS))
        if rng.random() < 0.3:
            name = rng.choice(names).lower()
            words.append(typo(name, rng) if rng.random() < 0.5 else name)
        args["q"] = " ".join(words)
        if rng.random() < 0.3:
            args["specialties"] = tuple(rng.sample(CODES, rng.choice([1, 2])))
        if rng.random() < 0.3 and networks:
            args["networks"] = (rng.choice(networks),)
        if rng.random() < 0.2:
            args["kind"] = rng.choice(["organization", "practitioner"])
        args["accepting"] = True if rng.random() < 0.3 else None
        args["telehealth"] = True if rng.random() < 0.1 else None
        if rng.random() < 0.1:
            args["languages"] = ("es",)
        sorts = ["relevance", "name"] + (["distance"] if "place" in args else [])
        args["sort"] = sorts[i % len(sorts)]
        out.append(SearchQuery(**args))
    return out


def place_alone(n: int, seed: int) -> list[SearchQuery]:
    """Searches by place and nothing else (the PostgreSQL backend counts them from its per-place
    rollup), with radii that cut through metros, so that listings with several places straddle
    the edge."""
    rng = random.Random(seed + 1000)
    out = []
    for i in range(n):
        z = lookup_zip(rng.choice(ZIPS))
        place = Place(z.lat + rng.uniform(-0.5, 0.5), z.lon + rng.uniform(-0.5, 0.5),
                      rng.choice([1, 3, 5, 10, 25, 50, 100, 250]))
        out.append(SearchQuery(place=place, sort=["distance", "distance", "name", "relevance"][i % 4],
                               per_page=rng.choice([5, 20, 100]), page=rng.choice([1, 1, 2, 3, 8])))
    return out


def assert_same(pair, n: int, seed: int) -> int:
    return assert_queries_same(pair, queries(pair[1], n, seed))


def assert_queries_same(pair, queries: list[SearchQuery]) -> int:
    whoosh, pg = pair
    matched = 0
    with whoosh.app_context(), pg.app_context():
        for query in queries:
            a, b = get_searcher(whoosh).search(query), get_searcher(pg).search(query)
            label = repr(query)
            assert b.total == a.total, label
            assert [h.lid for h in b.hits] == [h.lid for h in a.hits], label
            assert [h.score for h in b.hits] == pytest.approx([h.score for h in a.hits], rel=1e-12), label
            for x, y in zip(a.hits, b.hits, strict=True):
                assert (x.distance_mi is None) == (y.distance_mi is None), label
                if x.distance_mi is not None:
                    assert y.distance_mi == pytest.approx(x.distance_mi, abs=1e-9), label
            assert b.facets == a.facets, label
            matched += a.total > 0
    return matched


def test_same_answers_for_varied_queries(pair):
    matched = assert_same(pair, 300, seed=1)
    assert matched > 100  # many queries find something: the comparison is not of empty lists


def test_same_answers_by_place_in_name_order_through_the_name_index(pair):
    """Around a place with many listings, the PostgreSQL backend pages by name by walking its name
    index instead of reading every listing around; here it walks for any number around."""
    whoosh, pg = pair
    with pg.app_context():
        searcher = get_searcher(pg)
        searcher.name_walk_from = 0
        try:
            by_name = [replace(q, sort="name" if i % 2 else "relevance")
                       for i, q in enumerate(place_alone(120, seed=3))]
            assert assert_queries_same(pair, by_name) > 40
        finally:
            del searcher.name_walk_from


def test_same_answers_after_edits(pair):
    whoosh, pg = pair
    engine = get_engine(pg)
    for app in pair:  # open both searchers now: a searcher's first opening applies what is pending
        with app.app_context():
            get_searcher(app)
    rng = random.Random(5)
    with Session(engine, expire_on_commit=False) as session:
        ids = list(session.execute(select(Listing.id).order_by(Listing.id)).scalars())
        changed = rng.sample(ids, 40)
        for number, lid in enumerate(changed[:25]):
            listing = session.get(Listing, lid)
            first_zip = session.execute(select(Location.zip).where(Location.listing_id == lid)).scalars().first()
            zips = [rng.choice(ZIPS)] if number % 2 else [first_zip or "02115", rng.choice(ZIPS)]
            update_listing(session, lid, listing_input(listing, name=f"Renamed Mystic {number}", zips=zips,
                                                       specialties=[rng.choice(CODES)]),
                           actor="test")
            session.commit()
        for lid in changed[25:]:
            set_active(session, lid, False, "test")
            session.commit()
    with whoosh.app_context(), pg.app_context():
        with Session(engine) as session:
            # The edits also changed the documents of practitioners working at edited organizations.
            pending = set(session.execute(
                select(IndexChange.listing_id).where(IndexChange.applied_at.is_(None))).scalars())
            assert set(changed) <= pending
            docs = load_docs(session, pending)
        get_searcher(whoosh).update(docs)  # the Whoosh index is written directly ...
        assert apply_pending(engine, get_searcher(pg)) >= len(pending)  # ... and PostgreSQL's as usual
        assert check_index(engine, get_searcher(pg)).ok
    assert assert_same(pair, 200, seed=2) > 60
    assert_rollup_matches_rows(pg)


def assert_rollup_matches_rows(pg) -> None:
    """After edits, the per-cell rollup the PostgreSQL backend keeps up by deltas equals a count
    made afresh from its rows (in Python), and every row names its listing's home place."""
    with get_engine(pg).connect() as conn:
        held = {(cell, tag): n for cell, tag, n in conn.execute(text(f"SELECT cell, tag, n FROM {ROLLUP}"))}
        expected: Counter = Counter()
        for lat, lon, kind, accepting, specialties, networks in conn.execute(text(
                f"SELECT lat, lon, kind, accepting, specialties, networks FROM {TABLE} WHERE n = 0")):
            expected.update((cell, tag) for cell in home_cells(lat, lon)
                            for tag in rollup_tags(kind, accepting, specialties, networks))
        wrong_home = conn.execute(text(f"""
            SELECT count(*) FROM {TABLE} a JOIN {TABLE} h ON h.lid = a.lid AND h.n = 0
            WHERE a.hlat <> h.lat OR a.hlon <> h.lon OR a.hpt <> h.pt""")).scalar_one()
    assert len(held) > 100
    assert held == dict(expected)
    assert wrong_home == 0
