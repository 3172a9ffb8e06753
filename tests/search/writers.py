"""Processes that write listings at once through the write path: gunicorn workers on one machine,
or nodes on several (each with its own settings)."""

from __future__ import annotations

import multiprocessing

from sqlmodel import Session

from directory import create_app
from directory.db import get_engine
from directory.npi import make_npi
from directory.search import get_searcher
from directory.search.sync import apply_pending
from directory.services.listings import ListingInput, LocationInput, create_listing, update_listing

EACH = 12  # listings each process creates; every third is renamed afterwards


def renamed_count(processes: int) -> int:
    return processes * len(range(0, EACH, 3))


def _writer(settings: dict, number: int, results) -> None:
    app = create_app(settings)
    engine = get_engine(app)
    made = []
    try:
        with app.app_context():
            searcher = get_searcher(app)
            for i in range(EACH):
                data = ListingInput(
                    kind="organization", npi=make_npi(5_000_000 + number * 1000 + i, individual=False),
                    name=f"Writer {number} Clinic {i}", specialties=["261QI0500X"],
                    locations=[LocationInput(address=f"{i} Main St", zip="02115")],
                )
                with Session(engine) as session:
                    listing = create_listing(session, data, actor=f"writer-{number}")
                    session.commit()
                    if i % 3 == 0:  # some edits too
                        data.name += " (renamed)"
                        update_listing(session, listing.id, data, actor=f"writer-{number}",
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


def write_at_once(settings: list[dict]) -> list[int]:
    """One process per settings, all writing at once; the ids they made (fails on any error)."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [context.Process(target=_writer, args=(each, n, results)) for n, each in enumerate(settings)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert [error for _, _, error in outcomes] == [None] * len(settings)
    made = sorted(lid for _, ids, _ in outcomes for lid in ids)
    assert len(made) == EACH * len(settings)
    return made
