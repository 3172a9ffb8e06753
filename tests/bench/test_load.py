"""bench/load.py kept working: its core runs briefly (a few clients, a few seconds, a small data set)
under gunicorn on each backend with no failure and clean checks, and its checks catch a lost write."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from bench.load import run_load
from bench.load_checks import check_writes, snapshot
from bench.load_clients import Write
from directory import demo
from directory.db import get_engine
from directory.search import rebuild_index

pytest.importorskip("gunicorn")

LISTINGS = 300


# The load run on Whoosh only (the app fixture's default): on PostgreSQL it costs as long again, and
# `python -m bench.load` runs both. The checks themselves are tested on both backends below.
def test_load_with_concurrent_staff(app, tmp_path):
    with app.app_context():
        demo.generate(get_engine(), count=LISTINGS, seed=5)
        rebuild_index(app)
    settings = {key: app.config[key] for key in ("DATABASE_URL", "INDEX_DIR", "SEARCH_BACKEND")}
    report = run_load(settings, tmp_path, duration=4, clients=8, editors=2, checkers=1, verifiers=1, shared=4,
                      searches=8, warm=4)
    failed = {kind: row["failure_samples"] for kind, row in report["kinds"].items() if row["failures"]}
    assert failed == {}
    assert report["problems"] == []
    assert report["index_check"]["check_index_exit"] == 0
    # Every kind of request was made, and writes were acknowledged and then checked.
    assert {"search_api", "search_page", "provider", "report", "staff_form", "staff_edit", "staff_queue",
            "staff_verify"} <= set(report["kinds"])
    assert report["acknowledged"]["edits"] > 0 and report["acknowledged"]["verifications"] > 0
    assert report["search_check"]["names_searched"] > 0
    assert report["report_check"]["reports_stored"] == report["acknowledged"]["reports"] > 0


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_checks_find_a_lost_or_unlogged_write(app, factory):
    listing = factory.listing(name="Lakeside Infusion")
    engine = get_engine(app)
    before = snapshot(engine)
    version = before.versions[listing.id]
    # Two writes acknowledged from one version, neither in the database nor in the audit log.
    writes = [Write("edit", listing.id, version, "a@example.org", "Lakeside Infusion ldabcdefgh"),
              Write("verify", listing.id, version, "b@example.org")]
    problems, _ = check_writes(engine, before, writes, {"a@example.org", "b@example.org"})
    assert any("2 writes acknowledged from version" in p for p in problems)
    assert any(f"version {version}, expected {version + 2}" in p for p in problems)
    assert any("audit log differs" in p for p in problems)
    assert any("ldabcdefgh" in p and "name" in p for p in problems)
    with Session(engine) as session:
        assert session.get(type(listing), listing.id).name == "Lakeside Infusion"
