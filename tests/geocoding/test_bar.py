"""Issue 16's bar: the demo listings' locations placed by `flask --app wsgi geocode` against a
loopback geocoder that answers every address, killed with SIGKILL half way and resumed without
asking for any address twice, and afterwards every search of the benchmark's mix exact against
brute force over the new coordinates.

CI geocodes GEOCODE_BAR_COUNT demo listings (default 500); the README's 5,000-listing figure
comes from a run with GEOCODE_BAR_COUNT=5000.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from sqlalchemy import func, select
from sqlmodel import Session

from directory import demo
from directory.db import get_engine
from directory.geocoding.addresses import location_hash
from directory.models import GeocodeTask, Location
from directory.search import rebuild_index
from tests.backends import close_app, make_app
from tests.geocoding.apps import ROOT, geocode_command
from tests.geocoding.mix import check_mix
from tests.geocoding.server import LoopbackGeocoder
from tests.search.helpers import report

COUNT = int(os.environ.get("GEOCODE_BAR_COUNT") or 500)


def test_demo_locations_geocoded_resumed_after_sigkill_and_searches_exact(tmp_path):
    app = make_app("whoosh", tmp_path)
    try:
        engine = get_engine(app)
        with app.app_context():
            demo.generate(engine, count=COUNT, seed=42)
            rebuild_index(app)
        with Session(engine) as session:
            rows = session.execute(select(Location)).scalars().all()
            hashes = {location_hash(row) for row in rows}
            assert all(row.geo_source == "zip_centroid" for row in rows)
        with LoopbackGeocoder(synthesise=True) as server:
            server.hold_after = len(hashes) // 3
            command, env = geocode_command(app, server, tmp_path)
            started = time.perf_counter()
            with open(tmp_path / "first.log", "wb") as log:
                first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
                held = server.holding.wait(timeout=max(120.0, 0.5 * server.hold_after))  # a loaded machine
                first.send_signal(signal.SIGKILL)  # while it waits for an answer, rows claimed
                first.wait(timeout=30)
            assert held, (tmp_path / "first.log").read_text()
            killed_at = time.perf_counter() - started
            server.hold_after = None
            server.release()
            with Session(engine) as session:
                claimed = session.execute(select(func.count()).select_from(GeocodeTask)
                                          .where(GeocodeTask.claimed_by.is_not(None))).scalar_one()
            assert claimed >= 1  # the dead worker's claims, taken again below
            resumed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
            elapsed = time.perf_counter() - started
            assert resumed.returncode == 0, resumed.stderr
            answered, received = dict(server.answered), dict(server.received)
        # Every address answered exactly once; the one request cut short by the kill was asked again.
        assert len(answered) == len(hashes) and set(answered.values()) == {1}
        assert sum(received.values()) == sum(answered.values()) + 1
        with Session(engine) as session:
            assert session.execute(select(func.count()).select_from(Location)
                                   .where(Location.geo_source != "geocoder")).scalar_one() == 0
            states = dict(session.execute(select(GeocodeTask.state, func.count()).group_by(GeocodeTask.state)).all())
        assert states == {"done": len(rows)}
        assert "rejected 0, retry later 0, failed 0" in resumed.stdout
        assert report(app).ok
        compared = check_mix(app)
        assert compared > COUNT // 10  # results of the mix checked against brute force
        print(f"\ngeocoded {len(rows)} locations ({len(hashes)} addresses) of {COUNT} demo listings in "
              f"{elapsed:.1f} s (killed at {killed_at:.1f} s after {len(hashes) // 3} answers); "
              f"mix: {compared} results checked")
    finally:
        close_app(app)
