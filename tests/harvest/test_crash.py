"""`flask harvest` of a Plan-Net source (a second instance of this service on loopback), SIGKILLed
after a few pages were committed, on each backend: the run stays `running` at its checkpoint, no
listing is half-written, and `harvest` again resumes that run at the page after the last one
committed and ends with exactly the source's participation, the index caught up and check-index
clean."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from directory.db import get_engine
from directory.models import HarvestRun
from tests.backends import BACKENDS
from tests.crash.helpers import (
    assert_check_index_clean,
    assert_index_caught_up,
    assert_no_half_written_listing,
    environment,
    flask,
    start_flask,
)
from tests.harvest.conftest import register
from tests.harvest.expected import expected_participation, participation

PAGE_SIZE = 10  # small pages: the kill lands between many commits


def runs(engine) -> list[tuple[int, str, int]]:
    with Session(engine) as session:
        return [tuple(r) for r in session.execute(select(HarvestRun.id, HarvestRun.state, HarvestRun.pages)
                                                  .order_by(HarvestRun.id)).all()]


@pytest.mark.parametrize("backend", BACKENDS)
def test_harvest_killed_after_some_pages_resumes_at_its_checkpoint(app, tmp_path, source_app, source_url):
    engine = get_engine(app)
    register(app, source_url, name="mirror")
    env = {**environment(app, tmp_path), "HARVEST_MIN_INTERVAL": "0"}

    run = start_flask(env, tmp_path / "harvest-1.log", "harvest", "mirror", "--page-size", str(PAGE_SIZE))
    run.wait_for(lambda: any(state == "running" and pages >= 4 for _, state, pages in runs(engine)),
                 "four pages were committed")
    run.kill()
    [(run_id, state, pages)] = runs(engine)
    assert state == "running" and pages >= 4
    assert_no_half_written_listing(engine)

    code, output = flask(env, tmp_path / "harvest-2.log", "harvest", "mirror", "--page-size", str(PAGE_SIZE))
    assert code == 0, output
    assert "resumed" in output
    [(again_id, state, total_pages)] = runs(engine)
    assert (again_id, state) == (run_id, "done") and total_pages > pages
    assert participation(app) == expected_participation(source_app)
    assert_no_half_written_listing(engine)
    assert_index_caught_up(app)
    assert_check_index_clean(env, tmp_path / "check.log")
