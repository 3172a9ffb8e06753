"""An app whose geocoder is a loopback server, and the listing and queue helpers its tests share."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import select
from sqlmodel import Session

from directory.db import get_engine
from directory.geocoding.worker import drain
from directory.models import GeocodeTask, Location
from tests.backends import close_app, make_app
from tests.geocoding.server import LoopbackGeocoder


@pytest.fixture
def loopback():
    """A loopback geocoder answering from the fixtures (empty answers for unknown queries)."""
    with LoopbackGeocoder() as server:
        yield server


@pytest.fixture
def geo_app(backend, tmp_path, request, loopback):
    """An app on `backend` whose GEOCODER is Nominatim on `loopback`, without delay."""
    with geocoding_app(backend, tmp_path, request, loopback) as app:
        yield app


@pytest.fixture
def geo_session(geo_app):
    with Session(get_engine(geo_app), expire_on_commit=False) as session:
        yield session


@contextmanager
def geocoding_app(backend, tmp_path, request, loopback, service: str = "nominatim", **config):
    server = request.getfixturevalue("postgres_server") if backend == "postgres" else None
    app = make_app(backend, tmp_path, server, **loopback.config(service, **config))
    try:
        yield app
    finally:
        close_app(app)


def run_queue(app, **options):
    """`drain` as the command runs it (in an app context), with no real sleeping unless given."""
    options.setdefault("sleep", lambda _seconds: None)
    with app.app_context():
        return drain(app, **options)


def locations(app, listing_id: int) -> list[Location]:
    with Session(get_engine(app)) as session:
        return session.execute(select(Location).where(Location.listing_id == listing_id)
                               .order_by(Location.id)).scalars().all()


def task(app, location_id: int) -> GeocodeTask | None:
    with Session(get_engine(app)) as session:
        return session.get(GeocodeTask, location_id)
