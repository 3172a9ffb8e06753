"""Exports: the CSV re-imports to the same directory; JSON lines carry every listing in full."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import delete, select
from sqlmodel import Session

from directory.exports import export_csv, export_jsonl
from directory.importers.template import import_template
from directory.models import (
    Listing,
    ListingSpecialty,
    Location,
    Network,
    Organization,
    Participation,
    Practitioner,
)
from directory.services.listings import set_active
from tests.backends import close_app, make_app


def make_directory(factory, session) -> None:
    ppo = factory.network()
    hmo = factory.network(name="Test Community HMO", plan_type="HMO")
    factory.listing(zips=["02115", "10001"], networks=[ppo.id, hmo.id], accepting_new_patients=True,
                    languages=["en", "es"], services=["ivig", "infusion_center"], website="https://fenway.example",
                    ivig_products=["Gammagard", "Privigen"], sync=False)
    factory.listing(name="Capitol Home Infusion", org_type="home_infusion", specialties=["3336H0001X"],
                    zip="06105", telehealth=True, sync=False)
    factory.listing(name="Saint Francis Infusion", org_type="hospital_infusion",
                    specialties=["282N00000X", "261QI0500X"], primary_specialty="261QI0500X", zip="06105",
                    networks=[hmo.id], sync=False)
    factory.listing(kind="practitioner", name="Ada Lovelace, MD", credentials="MD",
                    specialties=["2084N0400X", "207RR0500X", "2084N0008X"], primary_specialty="207RR0500X",
                    zips=["02115", "02116"], telehealth=True, languages=["en", "fr"], networks=[ppo.id], sync=False)
    hidden = factory.listing(kind="practitioner", name="Grace Hopper", first_name="Grace", last_name="Hopper",
                             zip="10001", sync=False)
    set_active(session, hidden.id, False, actor="test")
    session.commit()


def dump(session) -> dict:
    """Listings with their places, specialties and networks, keyed by NPI; no ids or timestamps."""
    networks = {n.id: (n.payer, n.name) for n in session.execute(select(Network)).scalars()}
    directory = {}
    for listing in session.execute(select(Listing)).scalars():
        lid = listing.id
        org, prac = session.get(Organization, lid), session.get(Practitioner, lid)
        directory[listing.npi] = {
            "listing": listing.model_dump(exclude={"id", "created_at", "updated_at", "version", "source"}),
            "organization": org.model_dump(exclude={"listing_id"}) if org else None,
            "practitioner": prac.model_dump(exclude={"listing_id"}) if prac else None,
            "locations": sorted(
                tuple(sorted(loc.model_dump(exclude={"id", "listing_id"}).items(), key=lambda kv: kv[0]))
                for loc in session.execute(select(Location).where(Location.listing_id == lid)).scalars()
            ),
            "specialties": sorted(session.execute(
                select(ListingSpecialty.code, ListingSpecialty.is_primary).where(ListingSpecialty.listing_id == lid)
            ).all()),
            "networks": sorted(networks[p.network_id] for p in session.execute(
                select(Participation).where(Participation.listing_id == lid)).scalars()),
        }
    return directory


def test_csv_round_trip_rebuilds_the_same_directory(factory, session):
    make_directory(factory, session)
    before = dump(session)
    exported = io.StringIO()
    assert export_csv(session, exported) == 5

    session.execute(delete(Listing))
    session.commit()
    session.expire_all()
    assert dump(session) == {}

    exported.seek(0)
    report = import_template(session, exported, actor="test")
    assert (report.created, report.rejected) == (5, 0)
    session.expire_all()
    assert dump(session) == before

    # Importing the export of an unchanged directory changes nothing.
    again = io.StringIO()
    export_csv(session, again)
    again.seek(0)
    assert import_template(session, again, actor="test").unchanged == 5


def test_jsonl_has_networks_first_then_one_full_listing_per_line(factory, session):
    make_directory(factory, session)
    out = io.StringIO()
    assert export_jsonl(session, out) == 5
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [list(line) for line in lines] == [["network"]] * 2 + [["listing"]] * 5
    assert lines[0]["network"] == {"id": 1, "payer": "Test Health", "name": "Test Select PPO", "plan_type": "PPO",
                                   "is_demo": False}
    records = [line["listing"] for line in lines[2:]]
    fenway = records[0]
    assert fenway["kind"] == "organization" and fenway["ivig_products"] == ["Gammagard", "Privigen"]
    assert [loc["zip"] for loc in fenway["locations"]] == ["02115", "10001"]
    assert fenway["networks"] == [{"id": 1, "start_date": None, "end_date": None},
                                  {"id": 2, "start_date": None, "end_date": None}]
    assert {"id", "lat", "lon", "geo_source", "hours"} <= set(fenway["locations"][0])
    ada = next(r for r in records if r["name"] == "Ada Lovelace, MD")
    assert ada["specialties"][0] == ada["primary_specialty"] == "207RR0500X"
    assert (ada["first_name"], ada["credentials"], ada["roles"]) == ("Ada", "MD", [])
    assert [r["active"] for r in records].count(False) == 1
    assert {"version", "created_at", "updated_at", "verified_by", "is_demo", "source"} <= set(fenway)


def test_jsonl_carries_practitioners_roles_and_verification(factory, session):
    from directory.services.roles import add_role
    from directory.services.verification import verify_listing

    org = factory.listing(name="River Infusion", sync=False)
    prac = factory.listing(kind="practitioner", name="Ada Lovelace, MD", sync=False)
    place = session.execute(select(Location).where(Location.listing_id == org.id)).scalar_one()
    add_role(session, practitioner_id=prac.id, location_id=place.id, specialty_code="207RR0500X", actor="test")
    verify_listing(session, prac.id, by="verifier@example.org", method="phone", changed=False)
    session.commit()
    out = io.StringIO()
    export_jsonl(session, out)
    ada = [json.loads(line)["listing"] for line in out.getvalue().splitlines()][1]
    assert ada["roles"] == [{"organization_npi": org.npi, "location_id": place.id, "address": "1 Main St",
                             "zip": "02115", "specialty_code": "207RR0500X", "accepting_new_patients": False,
                             "telehealth": False}]
    assert (ada["verified_by"], ada["verification_method"]) == ("verifier@example.org", "phone")


def test_export_csv_keeps_practitioners_without_a_location_of_their_own(app, session, tmp_path):
    """Issue 12 item 2: on demo data, every NPI is exported and re-imports with its roles."""
    from directory import demo
    from directory.db import get_engine
    from directory.models import Role

    demo.generate(get_engine(app), count=300, seed=5)
    out = io.StringIO()
    assert export_csv(session, out) == 300
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    npis = set(session.execute(select(Listing.npi)).scalars())
    assert {row["npi"] for row in rows} == npis
    roles_before = role_set(session)
    assert any(not row["address"] and row["practices_at"] for row in rows)

    (tmp_path / "target").mkdir()
    target = make_app("whoosh", tmp_path / "target")
    with Session(get_engine(target)) as fresh:
        networks_into(fresh, session)
        report = import_template(fresh, io.StringIO(out.getvalue(), newline=""), actor="test")
        assert (report.created, report.rejected) == (300, 0), report.rejections[:3]
        assert set(fresh.execute(select(Listing.npi)).scalars()) == npis
        assert role_set(fresh) == roles_before
        assert fresh.execute(select(Role)).first() is not None
    close_app(target)


def role_set(session) -> set:
    from directory.models import Role

    org = Listing.__table__.alias("org")
    prac = Listing.__table__.alias("prac")
    return set(session.execute(
        select(prac.c.npi, org.c.npi, Location.address, Location.zip)
        .select_from(Role).join(prac, prac.c.id == Role.practitioner_id)
        .outerjoin(org, org.c.id == Role.organization_id).join(Location, Location.id == Role.location_id)
    ).all())


def networks_into(target, source) -> None:
    """The CSV names networks by id: give the target the same networks first."""
    for network in source.execute(select(Network).order_by(Network.id)).scalars():
        target.add(Network(id=network.id, payer=network.payer, name=network.name, plan_type=network.plan_type))
    target.commit()


def test_formulas_are_neutralised_in_the_csv_and_restored_on_import(factory, session):
    """Issue 12 item 6: a spreadsheet shows the cell as text; the import gives back the name."""
    evil = '=HYPERLINK("http://evil.example","click")'
    factory.listing(name=evil, website="@evil", sync=False)
    out = io.StringIO()
    export_csv(session, out)
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["name"] == "'" + evil and row["website"] == "'@evil"
    session.execute(delete(Listing))
    session.commit()
    report = import_template(session, io.StringIO(out.getvalue(), newline=""), actor="test")
    assert (report.created, report.rejected) == (1, 0)
    listing = session.execute(select(Listing)).scalar_one()
    assert (listing.name, listing.website) == (evil, "@evil")
