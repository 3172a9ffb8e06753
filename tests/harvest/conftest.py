"""Harvest test helpers: a second instance of our app, seeded differently, served on loopback as the
source (its /fhir/), and running a harvest of it (what its own database says each NPI's relevant
participation is: tests/harvest/expected.py)."""

from __future__ import annotations

from datetime import date

import pytest

from directory.db import get_engine
from directory.demo import generate
from directory.harvest.client import HttpSettings
from directory.harvest.run import harvest_source
from directory.search import rebuild_index
from directory.services.harvest_sources import add_source
from directory.services.unit_of_work import unit_of_work
from tests.backends import close_app, make_app
from tests.loopback import serving

SOURCE_LISTINGS = 200
FAST = HttpSettings(min_interval=0, attempts=3, backoff=0.01, max_wait=0.05, timeout=0.5)


@pytest.fixture
def source_app(tmp_path):
    """Another directory (demo data, seed 11): the payer whose Plan-Net API we harvest."""
    folder = tmp_path / "source"
    folder.mkdir()
    app = make_app("whoosh", folder)
    with app.app_context():
        generate(get_engine(), count=SOURCE_LISTINGS, seed=11)
        rebuild_index(app)
    yield app
    close_app(app)


@pytest.fixture
def source_url(source_app):
    with serving(source_app) as base:
        yield f"{base}/fhir"


def register(app, url: str, name: str = "mirror", payer: str | None = None) -> int:
    with app.app_context(), unit_of_work("test") as uow:
        return add_source(uow.session, name=name, base_url=url, payer=payer, actor="test").id


def run(app, source_id: int, **options):
    with app.app_context():
        return harvest_source(app, source_id, settings=options.pop("settings", FAST), **options)


def today() -> date:
    return date.today()
