"""`flask import-jsonl` of an export of a demo directory, on each backend, SIGKILLed once every
listing was written (the practitioners' roles and the index writes still to come):
no listing is half-written, a restarted process's index has every listing, and importing again
restores the export exactly."""

from __future__ import annotations

import io
import json

import pytest
from sqlmodel import Session

from directory import demo
from directory.db import get_engine
from directory.exports import export_jsonl
from directory.models import Listing
from tests.backends import BACKENDS, close_app, make_app
from tests.crash.helpers import (
    assert_check_index_clean,
    assert_index_caught_up,
    assert_no_half_written_listing,
    count_rows,
    environment,
    flask,
    start_flask,
)

LISTINGS = 60  # one batch (killed between batches: tests/crash/test_nppes.py)


def export(app) -> str:
    out = io.StringIO()
    with Session(get_engine(app)) as session:
        export_jsonl(session, out)
    return out.getvalue()


def listing_lines(text: str, *, roles: bool = True) -> dict[int, dict]:
    found = {}
    for line in text.splitlines():
        record = json.loads(line)
        if "listing" in record:
            listing = record["listing"]
            if not roles:
                listing.pop("roles", None)
            found[listing["id"]] = listing
    return found


@pytest.fixture
def exported(tmp_path):
    """An export-jsonl file of a demo directory."""
    (tmp_path / "source").mkdir()
    app = make_app("whoosh", tmp_path / "source")
    try:
        demo.generate(get_engine(app), count=LISTINGS, seed=11)
        path = tmp_path / "directory.jsonl"
        path.write_text(export(app), encoding="utf-8")
        return path
    finally:
        close_app(app)


@pytest.mark.parametrize("backend", BACKENDS)
def test_jsonl_import_killed_before_its_roles(app, tmp_path, exported):
    engine = get_engine(app)
    env = environment(app, tmp_path)
    source = exported.read_text(encoding="utf-8")
    whole = listing_lines(source, roles=False)
    assert len(whole) == LISTINGS

    # Every listing written; the practitioners' roles and the index writes still to come.
    run = start_flask(env, tmp_path / "import-1.log", "import-jsonl", str(exported))
    run.wait_for(lambda: count_rows(engine, Listing) == LISTINGS, "every listing was written")
    run.kill()
    assert_no_half_written_listing(engine)
    written = listing_lines(export(app), roles=False)
    assert len(written) == LISTINGS
    assert {lid: whole[lid] for lid in written} == written  # each listing exactly as exported

    # Started again: the index catches up by itself.
    assert_index_caught_up(app)
    assert_check_index_clean(env, tmp_path / "check.log")

    code, output = flask(env, tmp_path / "import-last.log", "import-jsonl", str(exported))
    assert code == 0 and "rejected 0" in output, output[-3000:]
    assert export(app) == source
    assert assert_index_caught_up(app) == LISTINGS
