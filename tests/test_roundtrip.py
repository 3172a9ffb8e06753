"""Lossless export and restore (issue 12): export-jsonl, import-jsonl into an empty database, export
again gives the same file, and both directories answer the benchmark's query mix the same, on each
search backend; on the demo data and on a directory that went through edits, imports and
deactivations."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bench.run import MIX, queries
from directory import demo
from directory.db import get_engine
from directory.exports import export_jsonl
from directory.importers.jsonl import import_jsonl
from directory.importers.template import import_template
from directory.importers.upsert import snapshot
from directory.models import Listing, Location, Network, Practitioner, Role
from directory.search import get_searcher
from directory.search.sync import apply_pending
from directory.services.listings import set_active, update_listing
from directory.services.roles import add_role, remove_role
from directory.services.verification import verify_listing
from tests.backends import BACKENDS, close_app, make_app

TODAY = date(2026, 3, 2)
QUERIES_PER_KIND = 12


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def apps(backend, tmp_path, request):
    """(source, target): two apps on `backend` with empty directories."""
    server = request.getfixturevalue("postgres_server") if backend == "postgres" else None
    made = []
    for name in ("source", "target"):
        (tmp_path / name).mkdir()
        made.append(make_app(backend, tmp_path / name, server))
    yield made
    for app in made:
        close_app(app)


def reindex(app) -> None:
    result = app.test_cli_runner().invoke(args=["reindex"])
    assert result.exit_code == 0, result.output


def export(app) -> str:
    out = io.StringIO()
    with Session(get_engine(app)) as session:
        export_jsonl(session, out)
    return out.getvalue()


def mix(networks: list[int]) -> list:
    """The benchmark's query mix."""
    return [(kind, query) for kind in MIX for query in queries(kind, QUERIES_PER_KIND, networks)]


def answers(app) -> list:
    """Ids in order, total and facet counts of every query of the benchmark mix."""
    engine = get_engine(app)
    with app.app_context():
        searcher = get_searcher(app)
        apply_pending(engine, searcher)
        with Session(engine) as session:
            networks = sorted(session.execute(select(Network.id)).scalars())
        results = []
        for kind, query in mix(networks):
            result = searcher.search(query)
            results.append((kind, [hit.lid for hit in result.hits], result.total, result.facets))
    assert any(total for _, _, total, _ in results)
    return results


def edit_directory(app) -> None:
    """Edits, a template import, verifications, role changes and deactivations, through the service."""
    with Session(get_engine(app)) as session:
        listings = session.execute(select(Listing).order_by(Listing.id)).scalars().all()
        orgs = [x for x in listings if x.kind == "organization"]
        pracs = [x for x in listings if x.kind == "practitioner"]
        for listing in orgs[:5]:
            data = snapshot(session, listing)
            update_listing(session, listing.id, replace(data, name=data.name + " East", telehealth=True), "test")
        set_active(session, orgs[6].id, False, "test")
        set_active(session, pracs[3].id, False, "test")
        verify_listing(session, pracs[0].id, by="verifier@example.org", method="email", changed=True)
        role = session.execute(select(Role).where(Role.organization_id.is_not(None))).scalars().first()
        remove_role(session, role.id, actor="test")
        org_place = session.execute(select(Location).where(Location.listing_id == orgs[1].id)).scalars().first()
        lone = next(p for p in pracs[5:] if session.execute(
            select(Role.id).where(Role.practitioner_id == p.id, Role.location_id == org_place.id)).first() is None)
        add_role(session, practitioner_id=lone.id, location_id=org_place.id, actor="test")
        session.get(Practitioner, lone.id).gender = "X"
        org_place.lat, org_place.lon, org_place.geo_source = org_place.lat + 0.001, org_place.lon, "geocoder"
        session.commit()
        csv_text = ("npi,kind,name,specialties,address,zip,networks\n"
                    "2000700015,organization,Fenway Infusion Center,261QI0500X,1 Brookline Ave,02115,\n")
        assert import_template(session, io.StringIO(csv_text), actor="test").created == 1


@pytest.mark.parametrize("edited", [False, True], ids=["demo", "edited"])
def test_export_import_export_is_identical_and_answers_the_same(apps, edited):
    source, target = apps
    demo.generate(get_engine(source), count=150, seed=3, today=TODAY)
    reindex(source)
    if edited:
        edit_directory(source)
    first = export(source)

    with Session(get_engine(target)) as session:
        report = import_jsonl(session, io.StringIO(first), actor="restore")
    assert report.rejections == []
    assert report.created == first.count("\n")  # every network and every listing
    assert export(target) == first
    assert answers(target) == answers(source)

    with Session(get_engine(target)) as session:  # the same file again changes nothing
        again = import_jsonl(session, io.StringIO(first), actor="restore")
    assert (again.created, again.updated, again.rejected) == (0, 0, 0)
