"""An app whose geocoder is a loopback server, and the listing and queue helpers its tests share."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session

from directory.db import get_engine
from directory.geocoding.worker import drain
from directory.models import GeocodeTask, Location
from tests.backends import close_app, make_app
from tests.geocoding.server import LoopbackGeocoder

ROOT = Path(__file__).resolve().parents[2]


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


def geocode_command(app, server: LoopbackGeocoder, folder: Path) -> tuple[list[str], dict]:
    """`flask --app wsgi geocode` as a separate process on `app`'s data, and its environment."""
    env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"], "INDEX_DIR": app.config["INDEX_DIR"],
           "SECRET_KEY": "test-secret", "INSTANCE_PATH": str(folder), "SEARCH_BACKEND": "whoosh",
           **{key: str(value) for key, value in server.config("nominatim").items()}}
    return [sys.executable, "-m", "flask", "--app", "wsgi", "geocode"], env


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
