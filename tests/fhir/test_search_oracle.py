"""Every search parameter, chain and `_has` of Plan-Net's CapabilityStatement, per type, against a
demo directory: the server's ids and total equal the oracle's (tests/fhir/oracle.py: the IG's
FHIRPath expressions evaluated with fhirpathpy over every emitted resource)."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest

from tests.fhir import oracle

TYPES = ("Endpoint", "HealthcareService", "InsurancePlan", "Location", "Organization", "OrganizationAffiliation",
         "Practitioner", "PractitionerRole")
EXTRAS = {"Practitioner": ("communication",), "PractitionerRole": ("new-patient",),
          "Location": ("new-patient",), "HealthcareService": ("new-patient", "delivery-method")}
# The reverse chains Inferno's Plan-Net kit tests (base type, _has parameter).
INFERNO_HAS = (
    ("Practitioner", "_has:PractitionerRole:practitioner:location"),
    ("Practitioner", "_has:PractitionerRole:practitioner:network"),
    ("Practitioner", "_has:PractitionerRole:practitioner:specialty"),
    ("Practitioner", "_has:PractitionerRole:practitioner:role"),
    ("Organization", "_has:OrganizationAffiliation:participating-organization:location"),
    ("Organization", "_has:OrganizationAffiliation:participating-organization:network"),
    ("Organization", "_has:OrganizationAffiliation:participating-organization:specialty"),
    ("Organization", "_has:InsurancePlan:owned-by:coverage-area"),
    ("Location", "_has:InsurancePlan:coverage-area:owned-by"),
    ("Organization", "_has:PractitionerRole:network:location"),
)
DUMMY = {"string": "zzzz", "token": "zzzz", "date": "1999-01-01"}


def _of(resources: dict, resource_type: str) -> list[dict]:
    return sorted((r for r in resources.values() if r["resourceType"] == resource_type), key=lambda r: r["id"])


def _sample(resources: dict, resource_type: str, name: str) -> list:
    """The values of `name` in the first resource of this type that has some."""
    expression = oracle.parameter(resource_type, name)["expression"]
    for resource in _of(resources, resource_type):
        found = oracle.values(resource, expression)
        if found:
            return found
    return []


def values_to_try(resources: dict, resource_type: str, name: str) -> list[tuple[str, str]]:
    """(modifier, value) pairs that exercise `name` on this data: every form its type has."""
    param = oracle.parameter(resource_type, name)
    kind, sample = param["type"], _sample(resources, resource_type, name)
    if not sample:
        return [("", f"{param['target'][0]}/none-0" if kind == "reference" else DUMMY[kind])]
    if kind == "string":
        part = oracle._strings(sample)[0].replace(",", "\\,")  # a comma in a value is escaped
        found = [("", part[:3].upper()), ("exact", part), ("exact", part.lower() + "x")]
        return found + ([("contains", part[1:4].lower())] if "contains" in param["modifier"] else [])
    if name == "_id":
        others = [r["id"] for r in _of(resources, resource_type)][-2:]
        return [("", sample[0]), ("", ",".join([sample[0], *others, "nope"]))]
    if kind == "token":
        system, code, text = next(c for c in oracle._codes(sample) if c[1])
        found = [("", code), ("", f"|{code}")]
        found += [("", f"{system}|{code}"), ("", f"{system}|")] if system else []
        return found + ([("text", text[:4].lower())] if text and "text" in param["modifier"] else [])
    if kind == "reference":
        ref = sample[0]["reference"]
        return [("", ref), ("", ref.split("/", 1)[1])]
    day = sorted(oracle.values(r, param["expression"])[0] for r in _of(resources, resource_type))[
        len(_of(resources, resource_type)) // 2][:10]  # the median day: matches on both sides
    # Every prefix at every precision is in test_values.py; here, each kind of range on real data.
    return [("", f"{prefix}{day}") for prefix in ("", "ne", "gt", "le", "sa", "eb")] + [
        ("", f"ge{day[:4]}"), ("", f"lt{day[:7]}")]


def fetch_all(client, resource_type: str, query: str) -> tuple[list[str], int]:
    """Every match's id, following `next` (100 a page), and the total each page gave."""
    ids, totals, url = [], set(), f"/fhir/{resource_type}?{query}&_count=100"
    while url:
        response = client.get(url)
        assert response.status_code == 200, (query, response.get_json())
        bundle = response.get_json()
        totals.add(bundle["total"])
        ids += [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]
        following = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
        url = None if following is None else urlsplit(following).path + "?" + urlsplit(following).query
    assert len(totals) == 1, (query, totals)
    return ids, totals.pop()


def _check(client, resource_type: str, query: str, expected: set[str], failures: list[str]) -> None:
    ids, total = fetch_all(client, resource_type, query)
    if len(ids) != len(set(ids)) or set(ids) != expected or total != len(expected):
        failures.append(f"{resource_type}?{query}: server {sorted(ids)[:6]}… ({total}), "
                        f"oracle {sorted(expected)[:6]}… ({len(expected)})")


@pytest.mark.parametrize("resource_type", TYPES)
def test_every_parameter_matches_the_oracle(demo, resource_type):
    failures, tried = [], 0
    names = [*oracle.capability()[resource_type], *EXTRAS.get(resource_type, ())]
    for name in names:
        for modifier, value in values_to_try(demo.resources, resource_type, name):
            expected = oracle.search(demo.resources, resource_type, name, value, modifier)
            _check(demo.client, resource_type, f"{name}{':' + modifier if modifier else ''}={_q(value)}",
                   expected, failures)
            tried += 1
    assert not failures, "\n".join(failures)
    assert tried >= len(names)


@pytest.mark.parametrize("resource_type", TYPES)
def test_every_chain_matches_the_oracle(demo, resource_type):
    failures = []
    for name, param in oracle.capability()[resource_type].items():
        targets = [t for t in param["target"] if t in TYPES]
        for chained in param["chain"]:
            if len(targets) != 1 or chained not in oracle.capability()[targets[0]]:
                continue
            modifier, value = values_to_try(demo.resources, targets[0], chained)[0]
            inner = {f"{targets[0]}/{i}" for i in oracle.search(demo.resources, targets[0], chained, value, modifier)}
            expected = {r["id"] for r in _of(demo.resources, resource_type)
                        if {v.get("reference") for v in oracle.values(r, param["expression"])} & inner}
            _check(demo.client, resource_type, f"{name}.{chained}={_q(value)}", expected, failures)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("resource_type", "has"), INFERNO_HAS)
def test_inferno_reverse_chains_match_the_oracle(demo, resource_type, has):
    _, source, reference, name = has.split(":")
    modifier, value = values_to_try(demo.resources, source, name)[0]
    expression = oracle.parameter(source, reference)["expression"]
    matched = oracle.search(demo.resources, source, name, value, modifier)
    expected = {ref["reference"].split("/", 1)[1] for r in _of(demo.resources, source)
                if r["id"] in matched for ref in oracle.values(r, expression)
                if ref.get("reference", "").startswith(resource_type + "/")}
    failures = []
    _check(demo.client, resource_type, f"{has}={_q(value)}", expected, failures)
    assert not failures, "\n".join(failures)


def test_comma_is_any_of_and_repetition_is_all_of(demo):
    roles = _of(demo.resources, "PractitionerRole")
    specialties = sorted({c["code"] for r in roles for s in r.get("specialty", []) for c in s["coding"]})
    a, b = specialties[:2]
    either = oracle.search(demo.resources, "PractitionerRole", "specialty", f"{a},{b}")
    assert either == (oracle.search(demo.resources, "PractitionerRole", "specialty", a)
                      | oracle.search(demo.resources, "PractitionerRole", "specialty", b))
    assert set(fetch_all(demo.client, "PractitionerRole", f"specialty={a},{b}")[0]) == either
    network = _sample(demo.resources, "PractitionerRole", "network")[0]["reference"]
    both = either & oracle.search(demo.resources, "PractitionerRole", "network", network)
    assert set(fetch_all(demo.client, "PractitionerRole", f"specialty={a},{b}&network={network}")[0]) == both
    assert set(fetch_all(demo.client, "PractitionerRole", f"specialty={a}&specialty={b}")[0]) == (
        oracle.search(demo.resources, "PractitionerRole", "specialty", a)
        & oracle.search(demo.resources, "PractitionerRole", "specialty", b))


def _q(value: str) -> str:
    return quote(value, safe="")


@pytest.mark.parametrize("resource_type", TYPES)
def test_a_search_without_criteria_gathers_every_resource_once(demo, resource_type):
    ids, total = fetch_all(demo.client, resource_type, "")
    assert sorted(ids) == sorted(r["id"] for r in _of(demo.resources, resource_type))
    assert total == len(ids) == len(set(ids))
    small = [e["resource"]["id"] for e in demo.client.get(f"/fhir/{resource_type}?_count=7").get_json()["entry"]]
    assert small == ids[:7]


@pytest.mark.parametrize(("resource_type", "name"), [("Organization", "type"), ("OrganizationAffiliation", "role"),
                                                     ("HealthcareService", "service-category"),
                                                     ("PractitionerRole", "role"), ("PractitionerRole", "specialty")])
def test_every_code_in_the_data_matches_the_oracle(demo, resource_type, name):
    expression = oracle.parameter(resource_type, name)["expression"]
    codes = {(system, code) for r in _of(demo.resources, resource_type)
             for system, code, _ in oracle._codes(oracle.values(r, expression)) if code}
    assert len(codes) > 1
    failures = []
    for system, code in sorted(codes):
        for value in (code, f"{system}|{code}"):
            _check(demo.client, resource_type, f"{name}={_q(value)}",
                   oracle.search(demo.resources, resource_type, name, value), failures)
    assert not failures, "\n".join(failures)
