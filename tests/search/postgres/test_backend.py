"""What only the PostgreSQL backend has: its typo filter's guarantee, and tables of another layout."""

from __future__ import annotations

import random
import string

import pytest
from sqlalchemy import text

from directory import create_app
from directory.db import get_engine
from directory.search import get_searcher
from directory.search.postgres.backend import trigram_threshold
from directory.search.postgres.cells import CELL_SQL
from directory.search.postgres.tables import COUNTS, META, ROLLUP, TABLE
from directory.search.text import fuzzy_distance
from tests.search.helpers import cli, search

pytestmark = pytest.mark.backends("postgres")


def edits(word: str, k: int, rng: random.Random) -> str:
    """`word` with up to `k` random edits after its first letter (the rule typo tolerance uses)."""
    letters = string.ascii_lowercase + string.digits
    chars = list(word)
    for _ in range(k):
        op = rng.choice(["sub", "ins", "del"])
        at = rng.randrange(1, len(chars) + (op == "ins"))
        if op == "sub" and at < len(chars):
            chars[at] = rng.choice(letters)
        elif op == "ins":
            chars.insert(at, rng.choice(letters))
        elif len(chars) > 2 and at < len(chars):
            del chars[at]
    return "".join(chars)


def test_trigram_floor_never_drops_a_term_within_the_allowed_edits(app):
    """The pg_trgm similarity floor is a filter on the term index: it must keep every term that
    fuzzystrmatch would accept, or the PostgreSQL backend would miss typos the Whoosh one finds."""
    rng = random.Random(7)
    pairs = []
    for _ in range(3000):
        word = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randrange(5, 16)))
        k = fuzzy_distance(word)
        term = edits(word, k, rng)
        pairs.append((word, term, k))
    with get_engine(app).connect() as conn:
        rows = conn.execute(text("""
            SELECT w, t, similarity(t, w), levenshtein(substr(t, 2), substr(w, 2))
            FROM unnest(CAST(:w AS text[]), CAST(:t AS text[])) AS p(w, t)"""),
            {"w": [p[0] for p in pairs], "t": [p[1] for p in pairs]}).all()
    checked = 0
    for (word, term, similarity, distance), (_, _, k) in zip(rows, pairs, strict=True):
        floor = trigram_threshold(word, k)
        if distance <= k and floor is not None:
            assert similarity >= floor, (word, term, k, similarity, floor)
            checked += 1
    assert checked > 2000


def test_tables_of_another_layout_are_rebuilt_at_open(app, client, runner, factory):
    """(tests/crash/test_heal.py has the other ways the tables heal at open.)"""
    listing = factory.listing(name="Fenway Infusion Center")
    with get_engine(app).begin() as conn:
        conn.execute(text(f"UPDATE {META} SET value = '0' WHERE key = 'layout'"))
    restarted = create_app({k: app.config[k] for k in ("DATABASE_URL", "INDEX_DIR", "SECRET_KEY",
                                                        "SEARCH_BACKEND")})
    try:
        response = restarted.test_client().get("/api/v1/search?q=fenway")
        assert response.status_code == 200
        assert [r["id"] for r in response.get_json()["results"]] == [listing.id]
        result = cli(restarted, restarted.test_cli_runner(), "reindex")
        assert result.exit_code == 0, result.output
        assert "PostgreSQL" in result.output
        assert [r["id"] for r in restarted.test_client().get("/api/v1/search?q=fenway").get_json()["results"]] \
            == [listing.id]
    finally:
        searcher = restarted.extensions.get("directory.searcher")
        if searcher is not None:
            searcher.close()
        get_engine(restarted).dispose()
    assert search(client, q="fenway") == [listing.id]


def test_check_index_recounts_what_writes_keep_up_by_deltas(app, client, runner, factory):
    """search_count and search_rollup are kept up by +/- deltas at every write; check-index counts
    them afresh from the rows, so a bug in a delta (or a hand edit) shows up, and reindex repairs it."""
    first = factory.listing(name="Fenway Infusion Center")
    second = factory.listing(name="Back Bay Rheumatology", zips=["02116", "02115"])
    third = factory.listing(name="Quincy Myositis Clinic", zips=["02169"])
    with app.app_context():
        assert get_searcher(app).derived_drift() == []  # the writes above kept everything in step
    with get_engine(app).begin() as conn:
        conn.execute(text(f"UPDATE {ROLLUP} SET n = n + 1 WHERE tag = '*' AND cell = "
                          f"(SELECT {CELL_SQL['fine'].format(a='s')} FROM {TABLE} s WHERE lid = :lid AND n = 0)"),
                     {"lid": first.id})
        conn.execute(text(f"DELETE FROM {COUNTS} WHERE facet = 'name' AND code = "
                          f"(SELECT min(code) FROM {COUNTS} WHERE facet = 'name')"))
        conn.execute(text(f"UPDATE {TABLE} SET hlat = hlat + 1 WHERE lid = :lid AND n = 1"), {"lid": second.id})
    result = cli(app, runner, "check-index")
    assert result.exit_code == 1
    assert f"{ROLLUP}: 1 cell tags differ from a fresh count" in result.output
    assert f"{COUNTS}: 1 terms or codes differ from a fresh count" in result.output
    assert f"{TABLE}.hpt: 1 rows differ from a fresh count" in result.output
    assert cli(app, runner, "reindex").exit_code == 0
    result = cli(app, runner, "check-index")
    assert result.exit_code == 0, result.output
    assert set(search(client, zip="02115", radius="25")) == {first.id, second.id, third.id}
