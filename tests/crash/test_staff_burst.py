"""A burst of staff edits under gunicorn (2 workers), the whole server SIGKILLed in the middle of it,
on each backend: every edit that got its success page is in the database with its audit entry, and
the restarted server's first searches find every listing under its current name (check-index clean)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bench.gunicorn import Server
from directory.db import get_engine
from directory.models import AuditEntry, Listing, Location
from directory.services.accounts import create_staff
from tests.backends import BACKENDS
from tests.crash.helpers import assert_check_index_clean, environment
from tests.search.test_gunicorn_writers import PASSWORD, fetch, signed_in

pytest.importorskip("gunicorn")

EDITORS = 6
LISTINGS = 18  # three per editor
ACKNOWLEDGED_BEFORE_THE_KILL = 12


@dataclass
class Editor:
    """One staff member's edits: each listing's acknowledged names in order, and the edit in flight."""

    acknowledged: dict[int, list[str]] = field(default_factory=dict)
    in_flight: dict[int, str] = field(default_factory=dict)


def edit_form(listing: Listing, location_id: int, name: str, version: int, token: str) -> bytes:
    """The edit form as a browser sends it back for a listing the factory made, with a new name."""
    return urllib.parse.urlencode({
        "csrf_token": token, "version": version, "name": name, "npi": listing.npi, "org_type": "infusion_center",
        "ivig_products": "", "specialties": "261QI0500X", "primary_specialty": "",
        "locations.0.id": location_id, "locations.0.address": "1 Main St", "locations.0.zip": "02115",
        "locations.0.city": "", "locations.0.state": "", "locations.0.phone": "(617) 555-0100",
        "locations.0.fax": "",
    }, doseq=True).encode()


def burst(base: str, number: int, listings: list[tuple[Listing, int]], editor: Editor, stop: threading.Event,
          acknowledged: list) -> None:
    """Rename this editor's listings in turn until the server goes away."""
    opener, token = signed_in(base, "editor@example.org")
    versions = {listing.id: listing.version for listing, _ in listings}
    round_ = 0
    while not stop.is_set():
        round_ += 1
        for listing, location_id in listings:
            name = f"Clinic {listing.id} Round {round_} Editor {number}"
            editor.in_flight[listing.id] = name
            try:
                status, page = fetch(opener, f"{base}/staff/listings/{listing.id}/edit",
                                     edit_form(listing, location_id, name, versions[listing.id], token))
            except (OSError, http.client.HTTPException):
                # The server was killed (before its answer, or mid-way through its body: IncompleteRead):
                # this edit may or may not have committed.
                return
            assert status == 200 and "public search shows the change" in page, (status, page[-2000:])
            del editor.in_flight[listing.id]
            editor.acknowledged.setdefault(listing.id, []).append(name)
            versions[listing.id] += 1
            acknowledged.append(name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_staff_edits_under_gunicorn_killed_mid_burst(app, session, factory, tmp_path):
    made = [factory.listing(name=f"Clinic {i}", zip="02115", sync=False) for i in range(LISTINGS)]
    factory.sync()
    create_staff(session, email="editor@example.org", role="admin", password=PASSWORD, actor="test")
    session.commit()
    places = dict(session.execute(select(Location.listing_id, Location.id)).all())
    env = environment(app, tmp_path)
    editors = [Editor() for _ in range(EDITORS)]
    acknowledged: list[str] = []
    stop = threading.Event()

    with Server(env, workers=2, log_path=tmp_path / "gunicorn-1.log") as server:
        server.wait_for("/healthz")
        with ThreadPoolExecutor(EDITORS) as pool:
            futures = [pool.submit(burst, server.base, n, [(x, places[x.id]) for x in made[n::EDITORS]],
                                   editors[n], stop, acknowledged) for n in range(EDITORS)]
            while len(acknowledged) < ACKNOWLEDGED_BEFORE_THE_KILL:
                assert not any(f.done() for f in futures), [f.exception() for f in futures if f.done()]
                threading.Event().wait(0.005)
            os.killpg(server.process.pid, signal.SIGKILL)  # the master and both workers, mid-request
            server.process.wait(timeout=30)
            stop.set()
            for future in futures:
                future.result(timeout=120)
    assert all(editor.in_flight for editor in editors)  # every editor was cut off mid-request

    # Every acknowledged edit is in the database with its audit entry; an edit cut off may have
    # committed or not, but nothing else.
    engine = get_engine(app)
    with Session(engine) as fresh:
        names = dict(fresh.execute(select(Listing.id, Listing.name)).all())
        audited = {(lid, changes["name"][1]) for lid, changes in fresh.execute(
            select(AuditEntry.listing_id, AuditEntry.changes).where(AuditEntry.action == "update"))
            if "name" in changes}
    original = {listing.id: listing.name for listing in made}
    for editor in editors:
        for lid, done in editor.acknowledged.items():
            assert all((lid, name) in audited for name in done), (lid, done)
            assert names[lid] in (done[-1], editor.in_flight.get(lid)), (lid, names[lid], done)
        for lid, name in editor.in_flight.items():
            if lid not in editor.acknowledged:
                assert names[lid] in (original[lid], name), (lid, names[lid])

    # Started again: the first searches find every listing under its current name.
    with Server(env, workers=2, log_path=tmp_path / "gunicorn-2.log") as server:
        server.wait_for("/healthz")
        for lid, name in names.items():
            query = urllib.parse.urlencode({"q": name, "per_page": 100})
            with urllib.request.urlopen(f"{server.base}/api/v1/search?{query}", timeout=60) as response:
                found = {r["id"]: r["name"] for r in json.load(response)["results"]}
            assert found.get(lid) == name, (lid, name, found)
        assert_check_index_clean(env, tmp_path / "check.log")
        assert server.log_tail(500).count("rebuilt the search index") <= 1
