"""`flask import-nppes` of the shared NPPES sample (2,000 practitioners, 503 of them IVIG-relevant,
written in batches of 500), on each backend, SIGKILLed inside its first batch's transaction and again after that
batch committed: no listing is half-written, a restarted process's index has every listing, and
importing again ends where an uninterrupted import ends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from directory.db import get_engine
from directory.importers.nppes import import_nppes
from directory.models import Listing
from directory.services.unit_of_work import unit_of_work
from tests.backends import BACKENDS, close_app, make_app
from tests.crash.helpers import (
    assert_check_index_clean,
    assert_index_caught_up,
    assert_no_half_written_listing,
    count_rows,
    environment,
    flask,
    listings_by_npi,
    open_fd_offset,
    start_flask,
)

# The shared sample (public NPPES rows; see its NOTICE.md), read where it lies, never copied here.
SAMPLE_DIR = Path(os.environ.get("NPPES_SAMPLE_DIR", "/work/shared/data/nppes-sample"))
SAMPLE = SAMPLE_DIR / "sample-nppes-practitioner_20181204-data.csv"
BATCH = 500  # import_nppes's batch size


@pytest.fixture
def sample() -> Path:
    if not SAMPLE.exists():
        pytest.skip(f"no NPPES sample at {SAMPLE} (set NPPES_SAMPLE_DIR to the folder holding it)")
    return SAMPLE


@pytest.fixture
def reference(tmp_path, sample):
    """The listings an uninterrupted import of the sample leaves, by NPI."""
    (tmp_path / "reference").mkdir()
    app = make_app("whoosh", tmp_path / "reference")
    try:
        with app.app_context(), open(sample, encoding="utf-8", newline="") as stream, \
                unit_of_work("cli") as work:
            report = import_nppes(work.session, stream, actor=work.actor)
        assert report.rejected == 0 and report.created > BATCH  # more than one batch
        return listings_by_npi(get_engine(app))
    finally:
        close_app(app)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nppes_import_killed_inside_and_between_its_batches(app, tmp_path, sample, reference):
    engine = get_engine(app)
    env = environment(app, tmp_path)
    size = sample.stat().st_size

    # 1. Inside the first batch's transaction: its 500 rows read (90% of the file; the last 3
    # relevant rows are in its last kilobytes), nothing committed yet.
    run = start_flask(env, tmp_path / "import-1.log", "import-nppes", str(sample))
    run.wait_for(lambda: open_fd_offset(run.process.pid, sample) >= 0.9 * size and count_rows(engine, Listing) == 0,
                 "its first batch was being written")
    run.kill()
    assert_no_half_written_listing(engine)
    assert count_rows(engine, Listing) in (0, BATCH)  # a batch is all or nothing

    # 2. Between batches: the first committed, the rest (and the index writes) still to come.
    run = start_flask(env, tmp_path / "import-2.log", "import-nppes", str(sample))
    run.wait_for(lambda: count_rows(engine, Listing) >= BATCH, "a batch was committed")
    run.kill()
    assert_no_half_written_listing(engine)
    crashed = listings_by_npi(engine)
    assert len(crashed) in (BATCH, len(reference))
    assert {npi: reference[npi] for npi in crashed} == crashed  # each listing exactly as a whole import writes it

    # Started again: the index catches up by itself.
    assert_index_caught_up(app)
    assert_check_index_clean(env, tmp_path / "check.log")

    # Imported again: the same directory as one uninterrupted import.
    code, output = flask(env, tmp_path / "import-3.log", "import-nppes", str(sample))
    assert code == 0 and "rejected 0" in output, output[-3000:]
    assert listings_by_npi(engine) == reference
    assert_no_half_written_listing(engine)
    assert assert_index_caught_up(app) == len(reference)
