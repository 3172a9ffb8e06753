"""Every resource the mapping makes of a demo directory validates with fhir.resources (R4B models)
and against the Plan-Net 1.2.0 profiles, their invariants included (tests/fhir/profiles.py); a
must-support report says what we never populate, which invariants warn and which were skipped."""

from __future__ import annotations

import copy
import csv
import re
from datetime import date
from pathlib import Path

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhirpathpy.engine.invocations import invocation_registry
from sqlmodel import Session

from directory import create_app
from directory.cli import init_db
from directory.db import get_engine
from directory.demo import generate
from directory.fhir import codes, ids
from directory.fhir.codes import Canonicals
from tests.fhir import invariants, package, profiles
from tests.fhir.conftest import all_resources

ROOT = Path(__file__).resolve().parents[2]
NUCC = "http://nucc.org/provider-taxonomy"
VS = "http://hl7.org/fhir/us/davinci-pdex-plan-net/ValueSet/"


@pytest.fixture(scope="module")
def demo_resources(tmp_path_factory) -> dict[str, dict]:
    """The resources of a seeded demo directory (300 listings, their networks and payers)."""
    folder = tmp_path_factory.mktemp("fhir-demo")
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{folder / 'demo.sqlite3'}",
                      "INDEX_DIR": str(folder / "index"), "SECRET_KEY": "fhir-tests"})
    try:
        with app.app_context():
            init_db()
            generate(get_engine(app), count=300, seed=14, today=date(2026, 11, 30))
        with Session(get_engine(app)) as session:
            yield all_resources(session)
    finally:
        get_engine(app).dispose()


@pytest.fixture(scope="module")
def demo_report(demo_resources) -> profiles.Report:
    """The checker's report on the demo directory, made once: invariants make it the slow part."""
    return profiles.check(list(demo_resources.values()), Canonicals().base)


def test_the_demo_directory_maps_to_every_resource_type(demo_resources):
    kinds = {key.split("/")[0] for key in demo_resources}
    assert kinds == {"Practitioner", "PractitionerRole", "Organization", "OrganizationAffiliation", "Location",
                     "HealthcareService", "InsurancePlan", "Endpoint"}
    assert len(demo_resources) > 1000
    assert all(ids.ID_PATTERN.fullmatch(r["id"]) for r in demo_resources.values())


def test_every_resource_validates_with_the_r4b_models(demo_resources):
    failures = []
    for key, resource in demo_resources.items():
        try:
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        except ValueError as error:
            failures.append(f"{key}: {error}")
    assert failures == []


def test_every_resource_conforms_to_its_plan_net_profile(demo_report):
    report = demo_report
    assert report.errors == []
    # The invariants ran where they matter, Plan-Net's own and core's.
    evaluated = {line.rsplit(" ", 1)[1] for line in report.invariants["error"]}
    assert {"pd-1", "new-patients-characteristics", "us-core-13", "us-core-16", "us-core-17", "ele-1", "ext-1",
            "dom-3", "org-1", "org-3", "network-or-plan-Network", "per-1", "cpt-2"} <= evaluated
    assert report.evaluations > 20 * len(report.populated)
    # Core value sets (contact-point-system, days-of-week ...) are not in the package; the
    # R4B models check those codes instead.
    assert all(url.startswith("http://hl7.org/fhir/ValueSet/") for url in report.unchecked_bindings)


def test_the_checker_finds_what_breaks_a_profile(demo_resources):
    by_type = {}
    for resource in demo_resources.values():
        by_type.setdefault(resource["resourceType"], resource)
    role, loc, prac = (copy.deepcopy(by_type[kind]) for kind in ("PractitionerRole", "Location", "Practitioner"))
    role["specialty"] = [{"coding": [{"system": NUCC, "code": "261QI0500X"}]}]  # an organization's code
    role["code"] = [{"coding": [{"system": codes.SYSTEM["ProviderRoleCS"], "code": "chef"}]}]
    loc["mode"] = "instance"
    loc["extension"].append({"url": codes.EXTENSION["network-reference"], "valueReference": {"reference": "x/1"}})
    del prac["identifier"]
    errors = "\n".join(profiles.check([role, loc, prac], Canonicals().base).errors)
    for expected in ("PractitionerRole.specialty", "PractitionerRole.code", "Location.mode has 1, at most 0",
                     "network-reference is not an extension Location may carry",
                     "Practitioner.identifier has 0, at least 1"):
        assert expected in errors


def test_the_checker_finds_what_breaks_an_invariant(demo_resources):
    by_type = {}
    for resource in demo_resources.values():
        by_type.setdefault(resource["resourceType"], resource)
    role, prac, plan, loc = (copy.deepcopy(by_type[kind])
                             for kind in ("PractitionerRole", "Practitioner", "InsurancePlan", "Location"))
    del role["telecom"]
    role.pop("endpoint", None)
    role["period"] = {}
    [npi] = [i for i in prac["identifier"] if i["system"] == "http://hl7.org/fhir/sid/us-npi"]
    npi["value"] = npi["value"][:-1] + str((int(npi["value"][-1]) + 1) % 10)  # a wrong check digit
    del plan["network"]
    plan["period"] = {"start": "2026-01-01", "end": "2025-12-31"}
    del loc["telecom"][0]["system"]
    newpatients = next(e for e in loc["extension"] if e["url"] == codes.EXTENSION["newpatients"])
    newpatients["valueBoolean"] = True  # a value beside sub-extensions
    report = profiles.check([role, prac, plan, loc], Canonicals().base)
    errors = "\n".join(report.errors)
    for expected in ("PractitionerRole pd-1 fails: SHALL have contact information",
                     "PractitionerRole.period ele-1 fails", "Practitioner.identifier:NPI us-core-17 fails",
                     "InsurancePlan network-or-plan-Network fails", "PlannetLocation Location.extension ext-1 fails",
                     "Location/loc-1 newpatients: NewPatients Extension ext-1 fails",
                     "InsurancePlan.period per-1 fails", "Location.telecom cpt-2 fails: A system is required"):
        assert expected in errors
    # No narrative is a warning (dom-6), never an error.
    assert any("dom-6 fails" in warning for warning in report.warnings)
    assert "dom-6" not in errors


def test_every_invariant_in_the_package_runs_or_is_skipped_with_its_reason():
    """Each constraint's instances can be selected (the package's, and core's per-1 and cpt-2 on
    elements of their type), its expression compiles, and every function it calls is fhirpathpy's
    or ours (hasValue) -- or its key is in the SKIPPED table, which names what is missing there."""
    known = set(invocation_registry) | set(invariants.FHIR_FUNCTIONS)
    missing = {}
    for sd in package._package().values():
        if sd.get("resourceType") != "StructureDefinition":
            continue
        for element in sd["snapshot"]["element"]:
            kinds = [kind["code"] for kind in element.get("type", ())]
            inherited = invariants.CORE_TYPE_CONSTRAINTS.get(kinds[0], ()) if len(kinds) == 1 else ()
            for constraint in (*element.get("constraint", ()), *inherited):
                called = set(re.findall(r"([A-Za-z]\w*)\(", constraint["expression"])) - known
                if called:
                    missing[constraint["key"]] = called
                    continue
                selection = invariants._selection(sd["url"], element["id"])
                assert selection is not None or element.get("sliceName"), element["id"]
                invariants._invariant(selection or "", constraint["expression"])
    assert set(missing) == set(invariants.SKIPPED)
    for key, functions in missing.items():
        assert all(f"{name}()" in invariants.SKIPPED[key] for name in functions)


def test_every_reference_resolves_to_an_emitted_resource(demo_resources):
    dangling = set()

    def walk(value, owner):
        if isinstance(value, dict):
            ref = value.get("reference")
            if isinstance(ref, str) and ref not in demo_resources:
                dangling.add(f"{owner} -> {ref}")
            for child in value.values():
                walk(child, owner)
        elif isinstance(value, list):
            for child in value:
                walk(child, owner)

    for key, resource in demo_resources.items():
        walk(resource, key)
    assert dangling == set()


def test_specialty_rules_agree_with_the_plan_net_value_sets():
    """Our taxonomy's codes are allowed as a role's or a service's specialty exactly when Plan-Net's
    IndividualAndGroupSpecialtiesVS or SpecialtiesVS has them."""
    individual = profiles.expand(VS + "IndividualAndGroupSpecialtiesVS")
    every = profiles.expand(VS + "SpecialtiesVS")
    with open(ROOT / "seed_data" / "taxonomy.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            assert codes.role_specialty_allowed(row["code"], row["section"]) == ((NUCC, row["code"]) in individual)
            assert codes.service_specialty_allowed(row["code"]) == ((NUCC, row["code"]) in every)


def test_must_support_report(demo_report, capsys):
    """Lists, per profile, the must-support elements no demo resource populates, then what the
    invariant check evaluated, warned about and skipped (printed, and written to
    test-artifacts/fhir-must-support.txt)."""
    report = demo_report
    gaps = profiles.must_support_gaps(report)
    lines = [f"{name}: {', '.join(paths) or '(none)'}" for name, paths in sorted(gaps.items())]
    lines += profiles.invariant_summary(report)
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "fhir-must-support.txt").write_text("\n".join(lines) + "\n")
    with capsys.disabled():
        print("\nMust-support elements never populated, then invariants:\n" + "\n".join(lines))
    # What the mapping promises stays populated.
    for name, path in (("PlannetPractitionerRole", "PractitionerRole.extension:newpatients"),
                       ("PlannetPractitionerRole", "PractitionerRole.extension:network-reference"),
                       ("PlannetLocation", "Location.position"), ("PlannetLocation", "Location.hoursOfOperation"),
                       ("PlannetHealthcareService", "HealthcareService.extension:deliverymethod")):
        assert path.replace(":deliverymethod", ":delivery-method") not in gaps[name], (name, path)


def test_the_known_directory_conforms_too(session, directory_data):
    """The factory-made directory reaches what the demo may not: a Medigap plan (our code system),
    a telehealth practitioner's virtual service, a role at an organisation's site."""
    report = profiles.check(list(all_resources(session).values()), Canonicals().base)
    assert report.errors == []
