"""Every resource the mapping makes of a demo directory validates with fhir.resources (R4B models)
and against the Plan-Net 1.2.0 profiles (tests/fhir/profiles.py); a must-support report says
what we never populate."""

from __future__ import annotations

import copy
import csv
from datetime import date
from pathlib import Path

import pytest
from fhir.resources.R4B import get_fhir_model_class
from sqlmodel import Session

from directory import create_app
from directory.cli import init_db
from directory.db import get_engine
from directory.demo import generate
from directory.fhir import codes, ids
from directory.fhir.codes import Canonicals
from tests.fhir import profiles
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


def test_every_resource_conforms_to_its_plan_net_profile(demo_resources):
    report = profiles.check(list(demo_resources.values()), Canonicals().base)
    assert report.errors == []
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


def test_must_support_report(demo_resources, capsys):
    """Lists, per profile, the must-support elements no demo resource populates (printed, and
    written to test-artifacts/fhir-must-support.txt)."""
    report = profiles.check(list(demo_resources.values()), Canonicals().base)
    gaps = profiles.must_support_gaps(report)
    lines = [f"{name}: {', '.join(paths) or '(none)'}" for name, paths in sorted(gaps.items())]
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "fhir-must-support.txt").write_text("\n".join(lines) + "\n")
    with capsys.disabled():
        print("\nMust-support elements never populated:\n" + "\n".join(lines))
    # What the mapping promises stays populated.
    for name, path in (("PlannetPractitionerRole", "PractitionerRole.extension:newpatients"),
                       ("PlannetPractitionerRole", "PractitionerRole.extension:network-reference"),
                       ("PlannetLocation", "Location.position"), ("PlannetLocation", "Location.hoursOfOperation"),
                       ("PlannetHealthcareService", "HealthcareService.extension:deliverymethod")):
        assert path.replace(":deliverymethod", ":delivery-method") not in gaps[name], (name, path)
