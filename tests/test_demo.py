"""The demo data generator: deterministic, valid, fictional, and it replaces only demo rows."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from directory import demo, migrate
from directory.db import make_engine
from directory.geo import is_known_zip, lookup_zip
from directory.models import (
    AuditEntry,
    Listing,
    ListingSpecialty,
    Location,
    Network,
    Organization,
    Participation,
    Practitioner,
    Role,
)
from directory.npi import is_valid_npi, make_npi
from directory.reference import vocabulary
from directory.referencedata import sync_specialties

TODAY = date(2026, 3, 1)
PHONE = re.compile(r"^\(\d{3}\) 555-01\d{2}$")
REAL_INSURERS = (
    "aetna", "cigna", "humana", "unitedhealth", "united health", "blue cross", "blue shield", "bcbs",
    "kaiser", "anthem", "elevance", "centene", "molina", "wellcare", "highmark", "oscar",
    "optum", "ambetter", "caresource", "health net", "wellpoint",
)
TABLES = (Listing, Organization, Practitioner, ListingSpecialty, Location, Role, Participation, Network)


def fresh_engine(path):
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with Session(engine) as session:
        sync_specialties(session)
        session.commit()
    return engine


def digest(engine) -> str:
    """A hash of every generated row, table by table in primary-key order."""
    h = hashlib.sha256()
    with engine.connect() as conn:
        for model in TABLES:
            table = model.__table__
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            h.update(f"{table.name}:{len(rows)}:".encode())
            for row in rows:
                h.update(repr(tuple(row)).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """2,000 listings, generated once for the checks that only read them."""
    engine = fresh_engine(tmp_path_factory.mktemp("demo") / "sample.sqlite3")
    calls = []
    made = demo.generate(engine, count=2000, seed=7, today=TODAY, progress=calls.append, batch_size=500)
    with Session(engine) as session:
        yield engine, session, made, calls
    engine.dispose()


def test_same_seed_same_rows_and_different_seed_different_rows(tmp_path):
    engines = [fresh_engine(tmp_path / f"{name}.sqlite3") for name in ("a", "b", "c", "d")]
    try:
        demo.generate(engines[0], count=300, seed=11, today=TODAY)
        demo.generate(engines[1], count=300, seed=11, today=TODAY, batch_size=7)
        demo.generate(engines[2], count=300, seed=12, today=TODAY)
        demo.generate(engines[3], count=300, seed=11, today=TODAY + timedelta(days=1))
        a, b, c, d = (digest(e) for e in engines)
        assert a == b  # ids included, whatever the batch size
        assert a != c
        assert a != d  # dates are relative to `today`
    finally:
        for engine in engines:
            engine.dispose()


def test_counts_and_progress(sample):
    engine, session, made, calls = sample
    assert made == 2000
    assert calls == [500, 500, 500, 500]
    assert session.execute(select(func.count()).select_from(Listing)).scalar_one() == 2000
    assert session.execute(select(func.count()).where(Listing.is_demo.is_(False))).scalar_one() == 0
    assert set(session.execute(select(Listing.source)).scalars()) == {"demo"}


def test_npis_valid_and_unique(sample):
    _, session, _, _ = sample
    rows = session.execute(select(Listing.kind, Listing.npi)).all()
    assert all(is_valid_npi(npi) for _, npi in rows)
    assert len({npi for _, npi in rows}) == len(rows)
    assert all(npi[0] == ("1" if kind == "practitioner" else "2") for kind, npi in rows)


def test_locations_sit_on_known_zip_centroids(sample):
    _, session, _, _ = sample
    locations = session.execute(select(Location)).scalars().all()
    assert locations
    for loc in locations:
        assert is_known_zip(loc.zip), loc.zip
        place = lookup_zip(loc.zip)
        assert (loc.lat, loc.lon) == (place.lat, place.lon)
        assert (loc.city, loc.state) == (place.city, place.state)
        assert loc.geo_source == "zip_centroid"
        assert PHONE.match(loc.phone), loc.phone
        assert loc.fax is None or PHONE.match(loc.fax), loc.fax
        assert re.match(r"^\d+ .+ (St|Ave|Rd|Blvd)(, Suite \d+)?$", loc.address), loc.address
        assert set(loc.hours) == {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
    assert 0.8 < sum(loc.wheelchair_accessible for loc in locations) / len(locations) < 1


def test_every_listing_has_one_primary_specialty_and_a_place(sample):
    _, session, _, _ = sample
    ids = set(session.execute(select(Listing.id)).scalars())
    primaries = Counter(
        session.execute(select(ListingSpecialty.listing_id).where(ListingSpecialty.is_primary)).scalars()
    )
    assert set(primaries) == ids and set(primaries.values()) == {1}
    per_listing = Counter(session.execute(select(ListingSpecialty.listing_id)).scalars())
    assert set(per_listing.values()) <= {1, 2, 3}
    placed = set(session.execute(select(Location.listing_id)).scalars())
    placed |= set(session.execute(select(Role.practitioner_id)).scalars())
    assert placed == ids


def test_roles_point_at_the_right_places(sample):
    _, session, _, _ = sample
    kinds = dict(session.execute(select(Listing.id, Listing.kind)).all())
    owner = dict(session.execute(select(Location.id, Location.listing_id)).all())
    primary = dict(
        session.execute(
            select(ListingSpecialty.listing_id, ListingSpecialty.code).where(ListingSpecialty.is_primary)
        ).all()
    )
    listing = {row.id: row for row in session.execute(select(Listing)).scalars()}
    roles = session.execute(select(Role)).scalars().all()
    assert sum(r.organization_id is not None for r in roles) > sum(r.organization_id is None for r in roles)
    for role in roles:
        assert kinds[role.practitioner_id] == "practitioner"
        if role.organization_id is None:
            assert owner[role.location_id] == role.practitioner_id
        else:
            assert kinds[role.organization_id] == "organization"
            assert owner[role.location_id] == role.organization_id
        assert role.specialty_code == primary[role.practitioner_id]
        assert role.accepting_new_patients == listing[role.practitioner_id].accepting_new_patients
        assert role.telehealth == listing[role.practitioner_id].telehealth
    per_practitioner = Counter(r.practitioner_id for r in roles)
    assert set(per_practitioner.values()) <= {1, 2}


def test_participation_and_networks(sample):
    _, session, _, _ = sample
    per_listing = Counter(session.execute(select(Participation.listing_id)).scalars())
    assert len(per_listing) == 2000
    assert set(per_listing.values()) <= {1, 2, 3, 4}
    networks = session.execute(select(Network)).scalars().all()
    assert 30 <= len(networks) <= 50
    assert all(n.is_demo for n in networks)
    payers = Counter(n.payer for n in networks)
    assert 10 <= len(payers) <= 16
    plan_types = {n.plan_type for n in networks}
    assert {"PPO", "HMO", "TRICARE", "VA"} <= plan_types
    for network in networks:
        text = f"{network.payer} {network.name}".lower()
        assert not any(real in text for real in REAL_INSURERS), text
        assert network.name.startswith(network.payer + " ")


def test_no_real_insurer_names_anywhere(sample):
    _, session, _, _ = sample
    names = session.execute(select(Listing.name)).scalars().all()
    for name in names:
        assert not any(real in name.lower() for real in ("aetna", "cigna", "humana", "kaiser", "anthem"))


def test_verification_dates(sample):
    _, session, _, _ = sample
    rows = session.execute(
        select(Listing.last_verified, Listing.verified_by, Listing.verification_method)
    ).all()
    never = [r for r in rows if r.last_verified is None]
    assert 0.05 < len(never) / len(rows) < 0.15
    assert all(r.verified_by is None and r.verification_method is None for r in never)
    dated = [r for r in rows if r.last_verified is not None]
    assert all(TODAY - timedelta(days=200) <= r.last_verified <= TODAY for r in dated)
    assert any(TODAY - r.last_verified > timedelta(days=90) for r in dated)
    assert any(TODAY - r.last_verified <= timedelta(days=90) for r in dated)
    assert {r.verification_method for r in dated} <= {"phone", "email", "attestation", "nppes"}


def test_proportions(sample):
    _, session, _, _ = sample
    kinds = Counter(session.execute(select(Listing.kind)).scalars())
    assert 0.28 < kinds["organization"] / 2000 < 0.42
    orgs = Counter(session.execute(select(Organization.org_type)).scalars())
    total = sum(orgs.values())
    for org_type, share in (
        ("infusion_center", 0.45), ("home_infusion", 0.20), ("hospital_infusion", 0.15),
        ("specialty_pharmacy", 0.05), ("practice", 0.15),
    ):
        assert abs(orgs[org_type] / total - share) < 0.07, (org_type, orgs)
    primary = Counter(
        session.execute(
            select(ListingSpecialty.code)
            .join(Listing, Listing.id == ListingSpecialty.listing_id)
            .where(ListingSpecialty.is_primary, Listing.kind == "practitioner")
        ).scalars()
    )
    practitioners = kinds["practitioner"]

    def share(*codes):
        return sum(primary[c] for c in codes) / practitioners

    assert 0.18 < share("207RR0500X", "2080P0216X") < 0.32
    assert 0.18 < share("2084N0400X", "2084N0402X") < 0.32
    assert 0.06 < share("207N00000X") < 0.14
    assert 0.10 < share("207K00000X", "207KI0005X", "2080P0201X") < 0.20
    nurses = ("363L00000X", "363LA2200X", "363LF0000X", "363LP0200X", "163WI0500X", "363A00000X")
    assert 0.08 < share(*nurses) < 0.18
    accepting = session.execute(select(func.avg(Listing.accepting_new_patients))).scalar_one()
    assert 0.62 < accepting < 0.78
    telehealth = session.execute(select(func.avg(Listing.telehealth))).scalar_one()
    assert 0.2 < telehealth < 0.4


def test_practitioner_and_organization_fields(sample):
    _, session, _, _ = sample
    service_ids = {c.id for c in vocabulary().services()}
    for listing in session.execute(select(Listing)).scalars():
        assert listing.languages[0] == "en" and 1 <= len(listing.languages) <= 3
        assert set(listing.services) <= service_ids
        assert listing.website is None or listing.website.startswith("https://example.org/")
        assert listing.created_at.tzinfo is not None
    for prac, name in session.execute(
        select(Practitioner, Listing.name).join(Listing, Listing.id == Practitioner.listing_id)
    ).all():
        assert prac.credentials in {"MD", "DO", "NP", "APRN", "RN", "PA-C"}
        assert name == f"{prac.first_name} {prac.last_name}, {prac.credentials}"
        assert prac.gender in {"F", "M", "X"}
    for org, services in session.execute(
        select(Organization, Listing.services).join(Listing, Listing.id == Organization.listing_id)
    ).all():
        if "ivig" in services:
            assert 2 <= len(org.ivig_products) <= 6
            assert set(org.ivig_products) <= set(demo.IVIG_PRODUCTS)
        else:
            assert org.ivig_products == []
        if org.org_type in ("infusion_center", "hospital_infusion"):
            assert 4 <= org.chairs <= 40
        if org.org_type in ("home_infusion", "specialty_pharmacy"):
            assert org.chairs is None
        if org.org_type == "home_infusion":
            assert {"home_infusion", "ivig"} <= set(services)
        assert org.prior_auth_help == ("prior_authorization" in services)


def test_rerun_replaces_demo_data_and_keeps_other_rows(tmp_path):
    engine = fresh_engine(tmp_path / "rerun.sqlite3")
    try:
        with Session(engine) as session:
            network = Network(payer="Local Test Plan", name="Local Test Plan PPO", plan_type="PPO")
            listing = Listing(kind="organization", npi=make_npi(10_000_000, individual=False), name="Real")
            session.add_all([network, listing])
            session.flush()
            session.add(ListingSpecialty(listing_id=listing.id, code="261QI0500X", is_primary=True))
            session.add(Participation(listing_id=listing.id, network_id=network.id))
            session.commit()
            real_id, real_network = listing.id, network.id
        # The first demo NPI equals the real listing's: the generator must pick another one.
        assert demo.generate(engine, count=400, seed=3, today=TODAY) == 400
        assert demo.generate(engine, count=250, seed=4, today=TODAY) == 250
        with Session(engine) as session:
            demo_count = session.execute(select(func.count()).where(Listing.is_demo.is_(True))).scalar_one()
            assert demo_count == 250
            real = session.get(Listing, real_id)
            assert real is not None and real.name == "Real" and not real.is_demo
            assert session.get(Network, real_network) is not None
            assert session.get(Participation, (real_id, real_network)) is not None
            assert session.get(ListingSpecialty, (real_id, "261QI0500X")) is not None
            npis = session.execute(select(Listing.npi)).scalars().all()
            assert len(set(npis)) == len(npis) == 251
            ids = select(Listing.id)
            for model, column in (
                (Location, Location.listing_id), (Role, Role.practitioner_id),
                (ListingSpecialty, ListingSpecialty.listing_id), (Participation, Participation.listing_id),
                (Organization, Organization.listing_id), (Practitioner, Practitioner.listing_id),
            ):
                orphans = session.execute(
                    select(func.count()).select_from(model).where(column.not_in(ids))
                ).scalar_one()
                assert orphans == 0, model.__name__
            demo_networks = select(func.count()).where(Network.is_demo.is_(True))
            assert 30 <= session.execute(demo_networks).scalar_one() <= 50
        assert demo.generate(engine, count=0, seed=5, today=TODAY) == 0
        with Session(engine) as session:
            assert session.execute(select(func.count()).select_from(Listing)).scalar_one() == 1
    finally:
        engine.dispose()


def test_rejects_bad_arguments(tmp_path):
    engine = fresh_engine(tmp_path / "bad.sqlite3")
    try:
        with pytest.raises(ValueError):
            demo.generate(engine, count=-1)
        with pytest.raises(ValueError):
            demo.generate(engine, count=10, batch_size=0)
    finally:
        engine.dispose()


def test_each_reseed_leaves_one_audit_entry(tmp_path):
    engine = fresh_engine(tmp_path / "audited.sqlite3")
    try:
        demo.generate(engine, count=300, seed=3, today=TODAY, batch_size=100)
        demo.generate(engine, count=120, seed=4, today=TODAY)
        with Session(engine) as session:
            trail = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
            networks = session.execute(select(func.count()).where(Network.is_demo.is_(True))).scalar_one()
    finally:
        engine.dispose()
    assert [(e.actor, e.action, e.listing_id) for e in trail] == [("seed-demo", "demo.reseed", None)] * 2
    first, second = (entry.changes for entry in trail)
    assert first["demo_listings"] == [0, 300] and second["demo_listings"] == [300, 120]
    assert first["seed"] == [None, 3] and second["seed"] == [None, 4]
    assert first["demo_networks"][0] == 0 and second["demo_networks"] == [first["demo_networks"][1], networks]
