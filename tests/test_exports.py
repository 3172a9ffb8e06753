"""Exports: the CSV re-imports to the same directory; JSON lines carry every listing in full."""

from __future__ import annotations

import io
import json

from sqlalchemy import delete, select

from directory.exports import export_csv, export_jsonl
from directory.importers.template import import_template
from directory.listings import set_active
from directory.models import (
    Listing,
    ListingSpecialty,
    Location,
    Network,
    Organization,
    Participation,
    Practitioner,
)


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


def test_jsonl_has_one_full_listing_per_line(factory, session):
    make_directory(factory, session)
    out = io.StringIO()
    assert export_jsonl(session, out) == 5
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(records) == 5
    fenway = records[0]
    assert fenway["kind"] == "organization" and fenway["ivig_products"] == ["Gammagard", "Privigen"]
    assert [loc["zip"] for loc in fenway["locations"]] == ["02115", "10001"]
    assert fenway["networks"] == [
        {"payer": "Test Health", "name": "Test Select PPO", "plan_type": "PPO"},
        {"payer": "Test Health", "name": "Test Community HMO", "plan_type": "HMO"},
    ]
    ada = next(r for r in records if r["name"] == "Ada Lovelace, MD")
    assert ada["specialties"][0] == ada["primary_specialty"] == "207RR0500X"
    assert (ada["first_name"], ada["credentials"]) == ("Ada", "MD")
    assert [r["active"] for r in records].count(False) == 1
