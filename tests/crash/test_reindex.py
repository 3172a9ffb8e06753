"""`flask reindex` SIGKILLed while it builds the new index and again after it swapped it in, on
each backend: the index in service stays whole (a restarted process serves every listing and
check-index is clean), and the next reindex completes."""

from __future__ import annotations

from pathlib import Path

import pytest

from directory import demo
from directory.db import get_engine
from directory.search import rebuild_index
from tests.backends import BACKENDS
from tests.crash.helpers import (
    assert_check_index_clean,
    assert_index_caught_up,
    environment,
    flask,
    start_flask,
    table_exists,
)

LISTINGS = 600


def snapshot_key(index: Path) -> tuple | None:
    path = index / "listings.npz"
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def phases(app) -> list[tuple[str, object]]:
    """(what, ready) for each moment to kill the reindex at: while it builds, then after its swap."""
    if app.config["SEARCH_BACKEND"] == "postgres":
        engine = get_engine(app)
        return [
            ("loading the new tables", lambda: table_exists(engine, "search_listing_load")),
            ("indexing and swapping the new tables",
             lambda: table_exists(engine, "search_listing_build") and not table_exists(engine, "search_listing_load")),
        ]
    index = Path(app.config["INDEX_DIR"])
    before = snapshot_key(index)
    return [
        ("building the new text index", lambda: (index / "whoosh.building").exists()),
        ("rewriting the stored cards after the swap", lambda: snapshot_key(index) not in (before, None)),
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_reindex_killed_while_building_and_after_its_swap(app, tmp_path):
    engine = get_engine(app)
    demo.generate(engine, count=LISTINGS, seed=7)
    assert rebuild_index(app) == LISTINGS
    env = environment(app, tmp_path)
    for n, (what, ready) in enumerate(phases(app)):
        run = start_flask(env, tmp_path / f"reindex-{n}.log", "reindex")
        run.wait_for(ready, what)
        run.kill()
        assert assert_index_caught_up(app) == LISTINGS
    assert_check_index_clean(env, tmp_path / "check.log")
    code, output = flask(env, tmp_path / "reindex.log", "reindex")
    assert code == 0 and f"indexed {LISTINGS} listings" in output, output[-3000:]
    assert assert_index_caught_up(app) == LISTINGS
