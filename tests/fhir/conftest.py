"""FHIR test helpers: the vendored Plan-Net package, and a small known directory."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from directory.db import get_engine
from directory.demo import generate
from directory.fhir.codes import Canonicals
from directory.fhir.mapping import listing_resources, network_resources
from directory.fhir.records import load_listings, load_networks
from directory.models import Listing, Location, Network
from directory.search import rebuild_index
from directory.services.roles import add_role
from tests.backends import close_app, make_app

DEMO_LISTINGS = 150
PLAN_NET = Path(__file__).resolve().parent.parent / "fixtures" / "plan-net"


@cache
def plan_net(name: str) -> dict:
    """One file of the vendored package, e.g. plan_net("ValueSet-OrgTypeVS")."""
    return json.loads((PLAN_NET / f"{name}.json").read_text())


def all_resources(session, canon: Canonicals | None = None) -> dict[str, dict]:
    """Every resource the database maps to, by "Type/id"."""
    canon = canon or Canonicals()
    ids = list(session.exec(select(Listing.id).where(Listing.active.is_(True)).order_by(Listing.id)))
    found = []
    for record in load_listings(session, ids):
        found += listing_resources(record, canon)
    found += network_resources(load_networks(session), canon)
    return {f"{r['resourceType']}/{r['id']}": r for r in found}


@pytest.fixture
def directory_data(factory, session):
    """Two payers' networks, an infusion centre at two sites and a rheumatologist with a role
    there and an office of her own."""
    ppo = factory.network(name="Harbor Select PPO", payer="Harbor Health", plan_type="PPO")
    medigap = factory.network(name="Harbor Medigap", payer="Harbor Health", plan_type="MEDIGAP")
    hmo = factory.network(name="Summit Care HMO", payer="Summit Mutual", plan_type="HMO")
    centre = factory.listing(name="Fenway Infusion Center", zips=["02115", "02139"],
                             networks=[ppo.id, medigap.id, hmo.id], accepting_new_patients=True,
                             services=["ivig", "scig"], website="https://example.org/fenway")
    doctor = factory.listing(kind="practitioner", name="Ada Lovelace, MD", credentials="MD", zip="02116",
                             networks=[ppo.id], telehealth=True, languages=["en", "es"],
                             specialties=["207RR0500X", "207R00000X"])
    site = session.exec(select(Location).where(Location.listing_id == centre.id).order_by(Location.id)).first()
    role = add_role(session, practitioner_id=doctor.id, location_id=site.id, specialty_code="207RR0500X",
                    accepting_new_patients=True, telehealth=True, actor="test")
    session.commit()
    return {"ppo": ppo, "medigap": medigap, "hmo": hmo, "centre": centre, "doctor": doctor, "site": site,
            "role": role}


def _spread_updates(session: Session) -> None:
    """Give the rows different update times (a demo is written in one go), over three years."""
    for row in [*session.exec(select(Listing)), *session.exec(select(Network))]:
        row.updated_at = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=row.id * 37 % 1000, minutes=row.id * 97)
        session.add(row)
    session.commit()


@dataclass(frozen=True)
class Demo:
    app: Flask
    client: FlaskClient
    resources: dict[str, dict]


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """A seeded demo directory (DEMO_LISTINGS listings, their networks), indexed, with every
    resource it maps to; built once per test process and shared by tests that only read."""
    app = make_app("whoosh", tmp_path_factory.mktemp("fhir-demo"))
    with app.app_context():
        generate(get_engine(app), count=DEMO_LISTINGS, seed=14, today=date(2026, 11, 30))
        rebuild_index(app)
    with Session(get_engine(app)) as session:
        _spread_updates(session)
        resources = all_resources(session)
    yield Demo(app, app.test_client(), resources)
    close_app(app)
