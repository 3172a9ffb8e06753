"""What only the PostgreSQL backend has: its typo filter's guarantee, and tables of another layout."""

from __future__ import annotations

import random
import string

import pytest
from sqlalchemy import text

from directory import create_app
from directory.db import get_engine
from directory.search.pg_backend import trigram_threshold
from directory.search.pg_tables import META
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


def test_tables_of_another_layout_ask_for_a_reindex(app, client, runner, factory):
    listing = factory.listing(name="Fenway Infusion Center")
    with get_engine(app).begin() as conn:
        conn.execute(text(f"UPDATE {META} SET value = '0' WHERE key = 'layout'"))
    restarted = create_app({k: app.config[k] for k in ("DATABASE_URL", "INDEX_DIR", "SECRET_KEY",
                                                        "SEARCH_BACKEND")})
    try:
        response = restarted.test_client().get("/api/v1/search?q=fenway")
        assert response.status_code == 503
        assert "rebuilt" in response.get_json()["error"]["message"]  # the log says: run reindex
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
