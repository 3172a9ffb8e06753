"""Factory helpers: listings made through the service layer, so tests exercise the real write path."""

from __future__ import annotations

import itertools

from flask import Flask
from sqlalchemy import func, select
from sqlmodel import Session

from directory.db import get_engine
from directory.models import IndexChange, Network
from directory.npi import make_npi
from directory.search import get_searcher
from directory.search.sync import apply_pending
from directory.services.listings import ListingInput, LocationInput, create_listing
from directory.services.unit_of_work import unit_of_work

_serial = itertools.count(1)


class Factory:
    def __init__(self, app: Flask, session: Session):
        self.app = app
        self.session = session

    def network(self, name: str = "Test Select PPO", payer: str = "Test Health", plan_type: str = "PPO"):
        network = Network(name=name, payer=payer, plan_type=plan_type)
        self.session.add(network)
        self.session.commit()
        return network

    def listing(self, *, sync: bool = True, **overrides):
        """Create one listing (a Boston infusion centre unless told otherwise) and index it."""
        kind = overrides.pop("kind", "organization")
        zips = overrides.pop("zips", None) or [overrides.pop("zip", "02115")]
        data = ListingInput(
            kind=kind,
            npi=overrides.pop("npi", None) or make_npi(next(_serial), individual=kind == "practitioner"),
            name=overrides.pop("name", "Fenway Infusion Center"),
            specialties=overrides.pop("specialties", ["261QI0500X" if kind == "organization" else "207RR0500X"]),
            locations=[
                LocationInput(address=f"{i + 1} Main St", zip=z, phone="(617) 555-0100")
                for i, z in enumerate(zips)
            ],
            first_name=overrides.pop("first_name", "Ada" if kind == "practitioner" else None),
            last_name=overrides.pop("last_name", "Lovelace" if kind == "practitioner" else None),
            **overrides,
        )
        if not sync:  # the change stays pending in the outbox (tests of the index's lag)
            listing = create_listing(self.session, data, actor="test")
            self.session.commit()
            return listing
        with self.app.app_context(), unit_of_work("test", session=self.session) as work:
            return create_listing(work.session, data, actor=work.actor)

    def sync(self) -> int:
        """Apply pending index changes; returns how many were pending (opening the searcher for the
        first time applies them too)."""
        engine = get_engine(self.app)
        with Session(engine) as session:
            pending = session.execute(
                select(func.count()).select_from(IndexChange).where(IndexChange.applied_at.is_(None))
            ).scalar_one()
        with self.app.app_context():
            apply_pending(engine, get_searcher(self.app))
        return pending
