"""FHIR test helpers: the vendored Plan-Net package, and a small known directory."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from sqlmodel import select

from directory.fhir.codes import Canonicals
from directory.fhir.mapping import listing_resources, network_resources
from directory.fhir.records import load_listings, load_networks
from directory.models import Listing, Location
from directory.services.roles import add_role

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
