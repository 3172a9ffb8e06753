"""The Plan-Net implementation guide's example resources as a second source, served by a static FHIR
server (tests/harvest/static_source.py) and harvested into an empty directory on each backend.

What to expect is read from the example files themselves, for the specialties the directory carries
(our taxonomy, plus the codes of the examples' pharmacy services, as a directory listing such
pharmacies would): the networks and their payers (named only by reference), the plan types of the
InsurancePlans, which NPIs are in which networks, whether they accept new patients there (the
examples say so on their Locations), and which resources cannot be used: roles that name no
practitioner, and providers new to us whose addresses have no ZIP code we can locate (the examples
use 00014) are reported and skipped. Once the directory has listings for those NPIs (as from NPPES),
the next run gives them exactly the examples' networks; a run after that writes nothing.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from directory.db import get_engine
from directory.fhir.codes import PRODUCT_TYPE
from directory.geo import is_known_zip
from directory.harvest import elements as el
from directory.models import HarvestRun, Listing, Network, NetworkClaim, Specialty
from directory.npi import is_valid_npi
from tests.backends import BACKENDS
from tests.harvest.conftest import register, run
from tests.harvest.expected import participation, writes
from tests.harvest.static_source import StaticSource, load_resources

EXAMPLES = load_resources()
BY_KEY = {f"{r['resourceType']}/{r['id']}": r for r in EXAMPLES}
PLAN_TYPES = {code: ours for ours, (code, _) in PRODUCT_TYPE.items()}
HARTFORD = "06103"  # where the directory's own listings of the examples' NPIs are


@pytest.fixture(scope="module")
def examples():
    with StaticSource(EXAMPLES) as server:
        yield server


def pharmacy_codes() -> dict[str, str]:
    """NUCC code -> display of the examples' pharmacy services (HealthcareService category "pharm")."""
    return {c["code"]: c.get("display") or c["code"] for r in EXAMPLES if r["resourceType"] == "HealthcareService"
            and "pharm" in el.any_codes(r.get("category"))
            for concept in r.get("specialty") or [] for c in concept.get("coding") or []}


def carry_pharmacies(app) -> None:
    with Session(get_engine(app)) as s:
        for code, display in pharmacy_codes().items():
            if s.get(Specialty, code) is None:
                s.add(Specialty(code=code, display=display, group="Infusion Centres & Pharmacies",
                                section="organization"))
        s.commit()


def carried(app) -> tuple[set[str], set[str]]:
    """The codes the directory carries, and those of its organization section."""
    with Session(get_engine(app)) as s:
        rows = s.execute(select(Specialty.code, Specialty.section)).all()
    return {c for c, _ in rows}, {c for c, section in rows if section == "organization"}


def network_names() -> dict[str, tuple[str, str]]:
    """Network reference -> (payer, name), the payer's name read through the network's partOf."""
    return {key: (r["partOf"].get("display") or BY_KEY[r["partOf"]["reference"]]["name"], r["name"])
            for key, r in BY_KEY.items() if r["resourceType"] == "Organization"
            and "ntwk" in el.codes(r.get("type"), el.ORG_TYPE_SYSTEM)}


def relevant(app) -> list[dict]:
    """Each example a search for the carried specialties returns: its provider's reference, kind,
    NPI, networks, location ZIP codes and what its locations say of new patients."""
    codes, org_codes = carried(app)
    found = []
    for key, r in BY_KEY.items():
        nucc = set(el.codes(r.get("specialty"), el.NUCC_SYSTEM))
        if r["resourceType"] == "PractitionerRole" and nucc & codes:
            who, kind = r.get("practitioner"), "practitioner"
            networks = [e["valueReference"]["reference"] for e in r.get("extension", [])
                        if e["url"] == el.NETWORK_REFERENCE]
        elif r["resourceType"] == "OrganizationAffiliation" and nucc & codes:
            who, kind = r.get("participatingOrganization"), "organization"
            networks = [n["reference"] for n in r.get("network", [])]
        elif r["resourceType"] == "HealthcareService" and nucc & org_codes and r.get("providedBy"):
            who, kind, networks = r["providedBy"], "organization", []
        else:
            continue
        provider = BY_KEY.get((who or {}).get("reference"), {})
        npi = el.npi(provider) if provider else None
        places = [BY_KEY[loc["reference"]] for loc in r.get("location", [])]
        found.append({"resource": key, "who": who, "kind": kind, "npi": npi if npi and is_valid_npi(npi) else None,
                      "networks": networks, "zips": [p["address"]["postalCode"][:5] for p in places],
                      "own": el.new_patients(r), "places": [el.new_patients(p) for p in places],
                      "period": r.get("period") or {}})
    return found


def expected_participation(rows: list[dict], npis: set[str]) -> dict[str, set]:
    names = network_names()
    found: dict[str, set] = {}
    for row in rows:
        if row["npi"] not in npis:
            continue
        for ref in row["networks"]:
            dates = ((el.day(row["period"].get("start")), el.day(row["period"].get("end")))
                     if row["kind"] == "practitioner" else (None, None))
            found.setdefault(row["npi"], set()).add((*names[ref], *dates))
    return found


def expected_accepting(rows: list[dict]) -> dict[tuple[str, tuple[str, str]], bool | None]:
    """(NPI, (payer, network)) -> accepting new patients: what each example says for that network
    (itself, else its locations), accepting if any of them does; None where none says."""
    names = network_names()
    said: dict[tuple, list] = {}
    for row in rows:
        for ref in row["networks"]:
            own = row["own"].get(ref, row["own"].get(None))
            at_places = [p.get(ref, p.get(None)) for p in row["places"]]
            statement = own if own is not None else (any(a for a in at_places if a is not None)
                                                    if any(a is not None for a in at_places) else None)
            said.setdefault((row["npi"], names[ref]), []).append(statement)
    return {k: (any(v for v in values if v is not None) if any(v is not None for v in values) else None)
            for k, values in said.items()}


def claims(app) -> dict[tuple[str, tuple[str, str]], bool | None]:
    with Session(get_engine(app)) as s:
        return {(npi, (payer, name)): accepting for npi, payer, name, accepting in s.execute(
            select(Listing.npi, Network.payer, Network.name, NetworkClaim.accepting_new_patients)
            .join(NetworkClaim, NetworkClaim.listing_id == Listing.id)
            .join(Network, Network.id == NetworkClaim.network_id)
            .where(NetworkClaim.ended_at.is_(None)))}


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_guides_examples_give_their_networks_by_npi_and_unusable_ones_are_reported(app, factory, examples):
    carry_pharmacies(app)
    rows = relevant(app)
    with_network = {r["npi"] for r in rows if r["npi"] and r["networks"]}
    assert with_network and any(r["kind"] == "organization" for r in rows)  # the examples exercise both kinds
    source = register(app, examples.base, name="examples")

    first = run(app, source)
    assert first.complete
    with Session(get_engine(app)) as s:
        networks = {(n.payer, n.name): n.plan_type for n in s.execute(select(Network)).scalars()}
        listings = set(s.execute(select(Listing.npi)).scalars())
    assert set(networks) == set(network_names().values())
    for plan in (r for r in EXAMPLES if r["resourceType"] == "InsurancePlan"):  # the plans say the networks' type
        for ref in plan["network"]:
            assert networks[network_names()[ref["reference"]]] == PLAN_TYPES[el.any_codes(plan["type"])[0]]
    for row in rows:
        said = [e for e in first.errors if e.startswith(f"{row['resource']} on page")]
        if row["who"] is None:  # a role of an organization, naming no practitioner: nobody to list
            assert said and f"names no {row['kind']}" in said[0]
        elif row["npi"] is None:
            assert said and "NPI" in said[0]
    addable = {r["npi"] for r in rows if r["npi"] and any(is_known_zip(z) for z in r["zips"])}
    assert listings == addable
    for npi in {r["npi"] for r in rows if r["npi"]} - addable:  # new to us, and nowhere we can place
        assert any(f"NPI {npi} " in e and ("could not be added" in e or "no location" in e) for e in first.errors)
    assert participation(app) == expected_participation(rows, addable)

    # The directory lists those NPIs itself (as from NPPES, in Hartford): the examples' networks follow.
    kinds = {r["npi"]: r["kind"] for r in rows if r["npi"]}
    assert all(kinds[r["npi"]] == r["kind"] for r in rows if r["npi"])  # one kind per NPI among them
    for npi in sorted(set(kinds) - listings):
        factory.listing(npi=npi, kind=kinds[npi], zip=HARTFORD)
    second = run(app, source, full=True)
    assert second.complete and "listings_added" not in second.counts
    assert participation(app) == expected_participation(rows, set(kinds))
    assert claims(app) == expected_accepting([r for r in rows if r["npi"]])

    before = writes(app)
    assert run(app, source, full=True).complete
    assert writes(app) == before
    incremental = run(app, source)
    assert not incremental.full and writes(app) == before


@pytest.mark.parametrize("backend", ["whoosh"])
def test_a_run_resumed_past_the_networks_reads_them_again_for_their_payers(app, factory, examples):
    """The examples name a network's payer only by reference, and the roles' pages include the
    network but not its payer: a run interrupted after the networks search must learn them again."""
    carry_pharmacies(app)
    rows = relevant(app)
    kinds = {r["npi"]: r["kind"] for r in rows if r["npi"]}
    for npi, kind in sorted(kinds.items()):
        factory.listing(npi=npi, kind=kind, zip=HARTFORD)
    source = register(app, examples.base, name="examples")

    def stop_in_the_roles(entries: int) -> None:
        with Session(get_engine(app)) as s:
            if s.execute(select(HarvestRun.stage)).scalar_one() >= 2:  # networks and plans read
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(app, source, page_size=1, progress=stop_in_the_roles)
    assert participation(app) == {}
    resumed = run(app, source, page_size=1)
    assert resumed.resumed and resumed.complete
    assert all(e.endswith("names no practitioner; skipped") for e in resumed.errors), resumed.errors
    assert participation(app) == expected_participation(rows, set(kinds))
