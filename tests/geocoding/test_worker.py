"""The worker's own rules: a background `--watch` run places what is queued while it runs and gives
its claims back when stopped; a claim of a process that has ended on this host is taken at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from directory.db import get_engine
from directory.geocoding.worker import dead_workers, worker_name
from directory.models import GeocodeTask
from directory.services import geocoding as work_queue
from tests.factories import Factory
from tests.geocoding.apps import ROOT, geocode_command, locations, run_queue
from tests.geocoding.server import Failure


def test_watch_places_new_work_and_releases_claims_when_stopped(geo_app, geo_session, loopback):
    loopback.answers["1 Main St, Boston, MA 02115"] = "nominatim/house.json"
    factory = Factory(geo_app, geo_session)
    first = factory.listing(name="Before")
    polls = []

    def poll(seconds):  # the idle worker's wait: new work arrives during the first, Ctrl-C in the second
        polls.append(seconds)
        if len(polls) > 1:
            raise KeyboardInterrupt
        factory.listing(name="During", zip="02116")

    with pytest.raises(KeyboardInterrupt):
        run_queue(geo_app, watch=True, poll_seconds=5, sleep=poll)
    assert polls == [5, 5]
    assert locations(geo_app, first.id)[0].geo_source == "geocoder"
    with Session(get_engine(geo_app)) as db:
        states = db.execute(select(GeocodeTask.state).order_by(GeocodeTask.location_id)).scalars().all()
    assert states == ["done", "rejected"]  # "During" was asked too (no answer for it)


def test_ctrl_c_gives_the_claims_back(geo_app, geo_session, loopback):
    factory = Factory(geo_app, geo_session)
    factory.listing(name="First")
    factory.listing(name="Second", zip="02116")
    loopback.script.extend([Failure(429, {"Retry-After": "1"})] * 3)

    def interrupted(_seconds):  # Ctrl-C while pausing for the rate limit, both rows claimed
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_queue(geo_app, sleep=interrupted)
    with Session(get_engine(geo_app)) as db:
        rows = db.execute(select(GeocodeTask.state, GeocodeTask.attempts, GeocodeTask.claimed_by)
                          .order_by(GeocodeTask.location_id)).all()
    assert rows == [("pending", 1, None), ("pending", 0, None)]


def test_a_claim_of_an_ended_process_on_this_host_is_taken_at_once(geo_app, geo_session):
    Factory(geo_app, geo_session).listing()
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = worker_name().split(":")[0]
    gone = f"{host}:{int(ended.stdout)}:abc123"
    alive = worker_name()  # this process
    elsewhere = f"another-host-{host}:1:abc123"
    assert dead_workers([gone, alive, elsewhere]) == [gone]
    with Session(get_engine(geo_app)) as db:
        work_queue.claim_tasks(db, gone, limit=5, reclaim_after=timedelta(minutes=10))
    done = run_queue(geo_app)  # no answer for the address: rejected, but taken from the dead claim
    assert done.rejected == 1


def test_watch_worker_process_stops_cleanly_on_sigterm(geo_app, geo_session, loopback, tmp_path):
    loopback.answers["1 Main St, Boston, MA 02115"] = "nominatim/house.json"
    listing = Factory(geo_app, geo_session).listing()
    command, env = geocode_command(geo_app, loopback, tmp_path)
    with open(tmp_path / "watch.log", "wb") as log:
        worker = subprocess.Popen([*command, "--watch"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while locations(geo_app, listing.id)[0].geo_source != "geocoder" and time.monotonic() < deadline:
            time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)  # as a service manager stops it
        assert worker.wait(timeout=60) == 130
    assert "interrupted: the rest stays queued" in (tmp_path / "watch.log").read_text()
    assert locations(geo_app, listing.id)[0].geo_source == "geocoder"
