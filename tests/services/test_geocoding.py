"""Geocoding's write path on both backends: an address is queued when created or changed, the
queue's answers place locations through the one write path (audited, index and cards through the
outbox), refused answers land in the staff queue, and errors never lose a row."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlmodel import Session

from directory.db import get_engine
from directory.exports import export_jsonl
from directory.geo import lookup_zip
from directory.geocoding.addresses import address_hash
from directory.importers.jsonl import import_jsonl
from directory.models import AuditEntry, GeocodeTask, Listing, Location, utcnow
from directory.services import geocoding as work_queue
from directory.services.listings import ListingInput, LocationInput, update_listing
from directory.services.unit_of_work import unit_of_work
from tests.backends import BACKENDS
from tests.geocoding.apps import locations, run_queue, task
from tests.geocoding.server import Failure
from tests.search.helpers import report
from tests.web.test_staff_upkeep import signed_in_as

FENWAY = "1 Main St, Boston, MA 02115"  # what the factory's first location is sent as
HOUSE = (42.3398067, -71.089231)  # tests/fixtures/geocoder/nominatim/house.json
CENTRE = (lookup_zip("02115").lat, lookup_zip("02115").lon)
both = pytest.mark.parametrize("backend", BACKENDS)


def make(app, session, **overrides):
    from tests.factories import Factory

    return Factory(app, session).listing(**overrides)


def edit(app, listing, *, address: str = "1 Main St", phone: str = "(617) 555-0100", zip5: str = "02115"):
    """The staff form's edit: the stored location in place, with these address and phone."""
    with Session(get_engine(app)) as session:
        location_id = session.execute(select(Location.id).where(Location.listing_id == listing.id)).scalar_one()
        version = session.get(Listing, listing.id).version
    data = ListingInput(kind=listing.kind, npi=listing.npi, name=listing.name, specialties=["261QI0500X"],
                        locations=[LocationInput(address=address, zip=zip5, phone=phone, id=location_id)])
    with app.app_context(), unit_of_work("editor@example.org") as work:
        update_listing(work.session, listing.id, data, work.actor, expected_version=version)


def api_location(client, listing_id: int, lat: float, lon: float) -> dict:
    body = client.get("/api/v1/search", query_string={"lat": lat, "lon": lon, "radius": 1}).get_json()
    return next(r for r in body["results"] if r["id"] == listing_id)


@both
def test_a_new_address_is_queued_then_placed_through_the_outbox(geo_app, geo_session, loopback):
    loopback.answers[FENWAY] = "nominatim/house.json"
    listing = make(geo_app, geo_session)
    (location,) = locations(geo_app, listing.id)
    assert (location.geo_source, location.geocoder, location.address_hash) == ("zip_centroid", None, None)
    queued = task(geo_app, location.id)
    assert (queued.state, queued.address_hash) == ("pending", address_hash("1 Main St", "Boston", "MA", "02115"))

    done = run_queue(geo_app)
    assert (done.placed, done.rejected, done.deferred) == (1, 0, 0)
    (location,) = locations(geo_app, listing.id)
    assert (location.lat, location.lon) == HOUSE
    assert (location.geo_source, location.geocoder, location.geo_quality) == ("geocoder", "nominatim", "house")
    assert location.address_hash == queued.address_hash and location.geocoded_at is not None
    assert task(geo_app, location.id).state == "done"
    entry = geo_session.execute(select(AuditEntry).where(AuditEntry.action == "geocode.place")).scalar_one()
    assert (entry.actor, entry.listing_id) == ("geocoder:nominatim", listing.id)
    assert entry.changes[f"locations.{location.id}.lat"] == [CENTRE[0], HOUSE[0]]
    # The search index and the stored card follow: found at the street point, 0.0 mi from it.
    found = api_location(geo_app.test_client(), listing.id, *HOUSE)
    assert found["distance_mi"] == 0.0
    assert (found["location"]["lat"], found["location"]["lon"]) == HOUSE
    assert report(geo_app).ok
    assert run_queue(geo_app).placed == 0 and loopback.received[FENWAY] == 1


@both
def test_an_unchanged_address_keeps_its_point_and_a_changed_one_is_queued(geo_app, geo_session, loopback):
    loopback.answers[FENWAY] = "nominatim/house.json"
    listing = make(geo_app, geo_session)
    run_queue(geo_app)
    edit(geo_app, listing, address=" 1  main st ", phone="(617) 555-0199")  # same place, other case and spaces
    (location,) = locations(geo_app, listing.id)
    assert (location.lat, location.lon, location.geo_source) == (*HOUSE, "geocoder")
    assert task(geo_app, location.id).state == "done"
    assert run_queue(geo_app).placed == 0 and loopback.received[FENWAY] == 1  # never geocoded twice

    edit(geo_app, listing, address="300 Longwood Ave")
    (location,) = locations(geo_app, listing.id)
    assert (location.lat, location.lon, location.geo_source, location.geocoder) == (*CENTRE, "zip_centroid", None)
    moved = task(geo_app, location.id)
    assert (moved.state, moved.address_hash) == ("pending", address_hash("300 Longwood Ave", "Boston", "MA", "02115"))
    assert api_location(geo_app.test_client(), listing.id, *CENTRE)["distance_mi"] == 0.0
    assert report(geo_app).ok


@both
def test_refused_answers_keep_the_centroid_and_reach_the_staff_queue(geo_app, geo_session, loopback):
    loopback.answers[FENWAY] = "nominatim/far.json"  # Springfield: 80 miles off
    loopback.answers["1 Main St, Boston, MA 02116"] = "nominatim/city.json"
    far = make(geo_app, geo_session, name="Far Answer Infusion")
    coarse = make(geo_app, geo_session, name="Coarse Answer Infusion", zip="02116")
    nothing = make(geo_app, geo_session, name="No Answer Infusion", zip="02118")
    done = run_queue(geo_app)
    assert (done.placed, done.rejected) == (0, 3)
    for listing in (far, coarse, nothing):
        (location,) = locations(geo_app, listing.id)
        assert location.geo_source == "zip_centroid"
        assert task(geo_app, location.id).state == "rejected"
    reasons = {e.listing_id: e.changes["reason"][1] for e in geo_session.execute(
        select(AuditEntry).where(AuditEntry.action == "geocode.reject")).scalars()}
    assert "mi from the centre of ZIP 02115 (more than 25 mi)" in reasons[far.id]
    assert reasons[coarse.id] == "the geocoder matched only a city, not the street address"
    assert reasons[nothing.id] == "the geocoder found no match for this address"

    client = geo_app.test_client()
    signed_in_as(client, geo_session, "verifier")
    page = client.get("/staff/verification").get_data(as_text=True)
    assert "Address could not be placed" in page
    for listing in (far, coarse, nothing):
        location_id = locations(geo_app, listing.id)[0].id
        row = page.split(f'<tr id="unplaced-{location_id}">', 1)[1].split("</tr>", 1)[0]
        assert listing.name in row and reasons[listing.id] in row
    # Correcting the address queues it again and takes it off the list.
    edit(geo_app, far, address="12 Main St")
    page = client.get("/staff/verification").get_data(as_text=True)
    assert f'id="unplaced-{locations(geo_app, far.id)[0].id}"' not in page
    assert f'id="unplaced-{locations(geo_app, coarse.id)[0].id}"' in page


@both
def test_an_address_changed_while_being_geocoded_is_not_placed(geo_app, geo_session, loopback):
    listing = make(geo_app, geo_session)
    (location,) = locations(geo_app, listing.id)
    with Session(get_engine(geo_app)) as db:
        (claim,) = work_queue.claim_tasks(db, "w1", limit=5, reclaim_after=timedelta(minutes=10))
    edit(geo_app, listing, address="300 Longwood Ave")
    with geo_app.app_context(), unit_of_work("geocoder:nominatim") as work:
        assert not work_queue.place_location(work.session, claim, worker="w1", lat=HOUSE[0], lon=HOUSE[1],
                                             geocoder="nominatim", quality="house", actor=work.actor)
    (location,) = locations(geo_app, listing.id)
    assert location.geo_source == "zip_centroid"
    assert (task(geo_app, location.id).state, task(geo_app, location.id).claimed_by) == ("pending", None)


@both
def test_workers_never_hold_the_same_row(geo_app, geo_session):
    made = [make(geo_app, geo_session, name=f"Clinic {i}", zip="02115") for i in range(12)]
    engine = get_engine(geo_app)
    held: dict[str, list[int]] = {}
    start = threading.Barrier(4)

    def worker(name: str) -> None:
        claims = []
        with Session(engine) as db:
            start.wait()
            while batch := work_queue.claim_tasks(db, name, limit=2, reclaim_after=timedelta(minutes=10)):
                claims.extend(c.location_id for c in batch)
        held[name] = claims

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    claimed = [lid for claims in held.values() for lid in claims]
    assert sorted(claimed) == sorted(loc.id for listing in made for loc in locations(geo_app, listing.id))
    assert len(set(claimed)) == len(claimed) == 12
    with Session(engine) as db:
        assert work_queue.claim_tasks(db, "late", limit=20, reclaim_after=timedelta(minutes=10)) == []
        # A claim older than the timeout, or of a worker known dead, is taken again.
        db.execute(update(GeocodeTask).where(GeocodeTask.claimed_by == "w0")
                   .values(claimed_at=utcnow() - timedelta(minutes=11)))
        db.commit()
        assert {c.location_id for c in work_queue.claim_tasks(
            db, "late", limit=20, reclaim_after=timedelta(minutes=10))} == set(held["w0"])
        assert {c.location_id for c in work_queue.claim_tasks(
            db, "later", limit=20, reclaim_after=timedelta(minutes=10), dead=["w1"])} == set(held["w1"])


def test_network_errors_back_off_and_never_lose_the_row(geo_app, geo_session, loopback):
    loopback.answers[FENWAY] = "nominatim/house.json"
    listing = make(geo_app, geo_session)
    (location,) = locations(geo_app, listing.id)
    loopback.script.append(Failure(500))
    done = run_queue(geo_app)
    assert (done.placed, done.deferred) == (0, 1)
    waiting = task(geo_app, location.id)
    assert (waiting.state, waiting.attempts, waiting.claimed_by) == ("pending", 1, None)
    assert "Non-successful status code 500" in waiting.last_error
    assert waiting.next_attempt_at >= utcnow() + timedelta(seconds=25)  # 30 s, then doubling
    assert run_queue(geo_app).placed == 0 and loopback.received[FENWAY] == 1  # not due yet
    with Session(get_engine(geo_app)) as db:  # time passes
        db.execute(update(GeocodeTask).values(next_attempt_at=utcnow()))
        db.commit()
    assert run_queue(geo_app).placed == 1
    assert locations(geo_app, listing.id)[0].geo_source == "geocoder"


def test_rate_limited_runs_pause_for_retry_after(geo_app, geo_session, loopback):
    make(geo_app, geo_session)
    loopback.script.extend([Failure(429, {"Retry-After": "1"})] * 3)  # geopy waits out two itself
    paused: list[float] = []
    done = run_queue(geo_app, sleep=paused.append)
    assert paused == [1] and done.deferred == 1


def test_a_run_stops_after_errors_in_a_row_keeping_the_queue(geo_app, geo_session, loopback):
    for i in range(4):
        make(geo_app, geo_session, name=f"Clinic {i}", zip=("02115", "02116", "02118", "02215")[i])
    loopback.script.extend([Failure(500)] * 3)
    done = run_queue(geo_app, stop_after_errors=3)
    assert done.stopped.startswith("3 geocoder errors in a row")
    assert done.deferred == 3 and sum(loopback.received.values()) == 3
    with Session(get_engine(geo_app)) as db:
        states = db.execute(select(GeocodeTask.state, GeocodeTask.claimed_by)).all()
    assert sorted(states) == [("pending", None)] * 4


def test_out_of_attempts_fails_and_retry_failed_queues_again(geo_app, geo_session, loopback, monkeypatch):
    loopback.answers[FENWAY] = "nominatim/house.json"
    listing = make(geo_app, geo_session)
    (location,) = locations(geo_app, listing.id)
    monkeypatch.setattr(work_queue, "MAX_ATTEMPTS", 2)
    for _ in range(2):
        loopback.script.append(Failure(502))
        with Session(get_engine(geo_app)) as db:
            db.execute(update(GeocodeTask).values(next_attempt_at=utcnow()))
            db.commit()
        run_queue(geo_app)
    assert (task(geo_app, location.id).state, task(geo_app, location.id).attempts) == ("failed", 2)
    assert run_queue(geo_app).placed == 0
    result = geo_app.test_cli_runner().invoke(args=["geocode", "--retry-failed"])
    assert result.exit_code == 0, result.output
    assert "placed 1 (reused 0), rejected 0" in result.output
    assert locations(geo_app, listing.id)[0].geo_source == "geocoder"


def test_one_address_is_asked_once_for_every_location_there(geo_app, geo_session, loopback):
    loopback.answers[FENWAY] = "nominatim/house.json"
    first, second = make(geo_app, geo_session, name="Clinic A"), make(geo_app, geo_session, name="Clinic B")
    done = run_queue(geo_app)
    assert (done.placed, done.reused) == (2, 1) and loopback.received[FENWAY] == 1
    for listing in (first, second):
        assert (locations(geo_app, listing.id)[0].lat, locations(geo_app, listing.id)[0].lon) == HOUSE


def test_command_limit_and_locations_written_in_bulk(geo_app, geo_session, loopback):
    loopback.answers[FENWAY] = "nominatim/house.json"
    make(geo_app, geo_session)
    make(geo_app, geo_session, name="Second", zip="02116")
    with Session(get_engine(geo_app)) as db:  # as rows written before the queue existed (or seed-demo)
        db.execute(GeocodeTask.__table__.delete())
        db.commit()
    result = geo_app.test_cli_runner().invoke(args=["geocode", "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert "placed 1 (reused 0), rejected 0, retry later 0, failed 0, skipped 0; newly queued 2" in result.output
    result = geo_app.test_cli_runner().invoke(args=["geocode"])
    assert "placed 0 (reused 0), rejected 1, retry later 0, failed 0, skipped 0; newly queued 0" in result.output


@both
def test_import_jsonl_restores_geocoded_points_without_queueing(geo_app, geo_session, loopback, tmp_path, request):
    import io

    from tests.geocoding.apps import geocoding_app

    loopback.answers[FENWAY] = "nominatim/house.json"
    listing = make(geo_app, geo_session)
    run_queue(geo_app)
    stream = io.StringIO()
    with Session(get_engine(geo_app)) as db:
        export_jsonl(db, stream)
    (line,) = [text for text in stream.getvalue().splitlines() if '"listing"' in text]
    assert '"geocoder": "nominatim"' in line and '"address_hash": "' in line
    (tmp_path / "copy").mkdir()
    with geocoding_app(geo_app.config["SEARCH_BACKEND"], tmp_path / "copy", request, loopback) as copy:
        with copy.app_context(), unit_of_work("cli") as work:
            result = import_jsonl(work.session, io.StringIO(stream.getvalue()), actor="cli")
        assert result.created == 1
        (restored,) = locations(copy, listing.id)
        (original,) = locations(geo_app, listing.id)
        for name in ("lat", "lon", "geo_source", "geocoder", "geo_quality", "geocoded_at", "address_hash"):
            assert getattr(restored, name) == getattr(original, name), name
        assert task(copy, restored.id).state == "done"
        assert run_queue(copy).placed == 0 and loopback.received[FENWAY] == 1
        assert api_location(copy.test_client(), listing.id, *HOUSE)["distance_mi"] == 0.0


def test_import_csv_queues_new_addresses_and_keeps_points_of_unchanged_ones(geo_app, loopback, tmp_path):
    loopback.answers["1 Brookline Ave, Boston, MA 02115"] = "nominatim/house.json"
    header = "npi,kind,name,specialties,address,zip,phone\n"
    path = tmp_path / "listings.csv"

    def load(address: str, phone: str) -> str:
        path.write_text(f"{header}2000700015,organization,Fenway Infusion Center,261QI0500X,{address},02115,{phone}\n")
        result = geo_app.test_cli_runner().invoke(args=["import-csv", str(path)])
        assert result.exit_code == 0, result.output
        with Session(get_engine(geo_app)) as db:
            return db.execute(select(Listing.id)).scalar_one()

    listing_id = load("1 Brookline Ave", "617-555-0100")
    assert run_queue(geo_app).placed == 1
    load("1 Brookline Ave", "617-555-0199")  # the import changes the phone, not the address
    (location,) = locations(geo_app, listing_id)
    assert (location.lat, location.lon, location.phone) == (*HOUSE, "(617) 555-0199")
    assert run_queue(geo_app).placed == 0 and loopback.received["1 Brookline Ave, Boston, MA 02115"] == 1
    load("5 Brookline Ave", "617-555-0199")  # a new address: a new location at the centroid, queued
    (location,) = locations(geo_app, listing_id)
    assert (location.lat, location.lon, task(geo_app, location.id).state) == (*CENTRE, "pending")
