"""Migration 0009 on a database with data, on SQLite and PostgreSQL: rows and roles survive, the
new columns start empty, and `geocode` then queues and places the locations stored before it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select
from sqlmodel import Session

from directory import create_app, migrate
from directory.cli import init_db
from directory.db import make_engine
from directory.models import GeocodeTask, Location, Role
from directory.npi import make_npi
from directory.referencedata import sync_specialties
from tests.backends import BACKENDS, close_app
from tests.geocoding.apps import run_queue
from tests.test_schema import _old_listing


@pytest.mark.parametrize("backend", BACKENDS)
def test_0009_keeps_rows_and_geocode_places_them_afterwards(backend, tmp_path, request, loopback):
    if backend == "postgres":
        server = request.getfixturevalue("postgres_server")
        url = server._create(f"ivig_mig0009_{server.run}")  # an empty database, not the migrated template
    else:
        url = f"sqlite:///{tmp_path / 'at-0008.sqlite3'}"
    engine = make_engine(url)
    try:
        migrate.upgrade(engine, "0008")
        with Session(engine) as session:
            sync_specialties(session)
            organization = _old_listing(session, kind="organization", npi=make_npi(7, individual=False),
                                        name="Fenway Infusion Center", address="12 Main St", zip5="02115")
            practitioner = _old_listing(session, kind="practitioner", npi=make_npi(8, individual=True),
                                        name="Ada Lovelace", address="2 Main St", zip5="02116")
            location_id = session.execute(select(Location.__table__.c.id)
                                          .where(Location.__table__.c.listing_id == organization)).scalar_one()
            session.execute(insert(Role.__table__).values(practitioner_id=practitioner, organization_id=organization,
                                                          location_id=location_id))
            session.commit()
        migrate.upgrade(engine)
        with Session(engine) as session:
            rows = session.execute(select(Location).order_by(Location.id)).scalars().all()
            assert [(row.address, row.geo_source, row.geocoder, row.address_hash) for row in rows] == [
                ("12 Main St", "zip_centroid", None, None), ("2 Main St", "zip_centroid", None, None)]
            assert session.execute(select(func.count()).select_from(Role)).scalar_one() == 1
            assert session.execute(select(func.count()).select_from(GeocodeTask)).scalar_one() == 0
    finally:
        engine.dispose()

    loopback.answers["12 Main St, Boston, MA 02115"] = "nominatim/house.json"
    app = create_app({"TESTING": True, "DATABASE_URL": url, "INDEX_DIR": str(tmp_path / "index"),
                      "SECRET_KEY": "test-secret", "SEARCH_BACKEND": backend, **loopback.config()})
    try:
        with app.app_context():
            init_db()
        done = run_queue(app)
        assert (done.queued, done.placed, done.rejected) == (2, 1, 1)  # "2 Main St" has no answer
        # The outbox brought the index up to date for both listings (the practitioner is there by its role).
        body = app.test_client().get("/api/v1/search", query_string={"lat": 42.3398067, "lon": -71.089231,
                                                          "radius": 1}).get_json()
        assert {r["id"]: r["distance_mi"] for r in body["results"]} == {organization: 0.0, practitioner: 0.0}
    finally:
        close_app(app)
