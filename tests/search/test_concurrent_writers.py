"""Several processes writing at once (as gunicorn workers would): no index lock error reaches a
writer, no change is lost, and the database and index agree afterwards."""

from __future__ import annotations

import multiprocessing

from sqlmodel import Session

from directory import create_app
from directory.db import get_engine
from directory.listings import ListingInput, LocationInput, create_listing, update_listing
from directory.npi import make_npi
from directory.search import get_searcher
from directory.search.sync import apply_pending, check_index

WRITERS = 3
EACH = 12


def _worker(settings: dict, number: int, results) -> None:
    app = create_app(settings)
    engine = get_engine(app)
    made = []
    try:
        with app.app_context():
            searcher = get_searcher(app)
            for i in range(EACH):
                data = ListingInput(
                    kind="organization", npi=make_npi(5_000_000 + number * 1000 + i, individual=False),
                    name=f"Worker {number} Clinic {i}", specialties=["261QI0500X"],
                    locations=[LocationInput(address=f"{i} Main St", zip="02115")],
                )
                with Session(engine) as session:
                    listing = create_listing(session, data, actor=f"worker-{number}")
                    session.commit()
                    if i % 3 == 0:  # some edits too
                        data.name += " (renamed)"
                        update_listing(session, listing.id, data, actor=f"worker-{number}",
                                       expected_version=listing.version)
                        session.commit()
                    made.append(listing.id)
                apply_pending(engine, searcher)
            searcher.close()
        results.put((number, made, None))
    except Exception as error:  # reported to the parent, which fails the test
        results.put((number, made, repr(error)))
    finally:
        engine.dispose()


def test_concurrent_writers_lose_nothing(app, client):
    settings = {key: app.config[key] for key in ("DATABASE_URL", "INDEX_DIR", "SECRET_KEY", "SEARCH_BACKEND")}
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(settings, n, results)) for n in range(WRITERS)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=180) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert [error for _, _, error in outcomes] == [None] * WRITERS
    made = sorted(lid for _, ids, _ in outcomes for lid in ids)
    assert len(made) == WRITERS * EACH

    with app.app_context():
        apply_pending(get_engine(app), get_searcher(app))
        report = check_index(get_engine(app), get_searcher(app))
    assert report.ok, report
    body = client.get("/api/v1/search?zip=02115&radius=1&per_page=100").get_json()
    assert sorted(r["id"] for r in body["results"]) == made
    renamed = client.get("/api/v1/search?q=renamed&per_page=100").get_json()
    assert renamed["total"] == WRITERS * len(range(0, EACH, 3))
