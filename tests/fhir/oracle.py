"""A search oracle, apart from the server's code: each parameter's FHIRPath `expression` (from the
vendored Plan-Net SearchParameters, or core's for _id and _lastUpdated, or ours for the extras)
evaluated with fhirpathpy over every emitted resource, and the search value compared to what it
yields by FHIR's rules, written here as simply as they can be."""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from fhirpathpy import compile as fhirpath
from fhirpathpy.models import models

from tests.fhir.conftest import plan_net

NAME_AND_ADDRESS_PARTS = ("text", "family", "given", "prefix", "suffix", "line", "city", "district", "state",
                          "postalCode", "country")
PLAN_NET_SD = "http://hl7.org/fhir/us/davinci-pdex-plan-net/StructureDefinition"
NEWPATIENTS = (f".extension.where(url='{PLAN_NET_SD}/newpatients').extension.where(url='acceptingPatients')"
               ".value")
# Our extras' expressions (the Plan-Net package has none for them).
OURS = {"communication": "Practitioner.communication", "new-patient": "{type}" + NEWPATIENTS}


@cache
def capability() -> dict[str, dict[str, dict]]:
    """Type -> parameter name -> {type, expression, modifier, chain, target} per Plan-Net's CS."""
    found = {}
    for resource in plan_net("CapabilityStatement-plan-net")["rest"][0]["resource"]:
        params = {}
        for param in resource.get("searchParam", []):
            name = param["name"]
            if name in ("_id", "_lastUpdated"):
                element = "id" if name == "_id" else "meta.lastUpdated"
                params[name] = {"type": "token" if name == "_id" else "date",
                                "expression": f"{resource['type']}.{element}", "modifier": [], "chain": [],
                                "target": []}
                continue
            sp = plan_net("SearchParameter-" + param["definition"].rsplit("/", 1)[1])
            params[name] = {"type": sp["type"], "expression": sp["expression"], "modifier": sp.get("modifier", []),
                            "chain": sp.get("chain", []), "target": sp.get("target", [])}
        found[resource["type"]] = params
    return found


def parameter(resource_type: str, name: str) -> dict:
    if name in OURS:
        return {"type": "token", "expression": OURS[name].format(type=resource_type), "modifier": ["text"]}
    if name == "delivery-method":
        sp = plan_net("SearchParameter-healthcareservice-delivery-method")
        return {"type": "token", "expression": sp["expression"], "modifier": []}
    return capability()[resource_type][name]


@cache
def _compiled(expression: str):
    return fhirpath(expression, model=models["r4"])


def values(resource: dict, expression: str) -> list:
    """What `expression` yields on `resource`; an extension yields its value (as FHIR search reads it)."""
    return [_value(found) for found in _compiled(expression)(resource)]


def _value(found):
    if isinstance(found, dict) and "url" in found:
        return next((v for k, v in found.items() if k.startswith("value")), found)
    return found


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn").lower()


def _strings(found: list) -> list[str]:
    out = []
    for value in found:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for key in NAME_AND_ADDRESS_PARTS:
                part = value.get(key)
                out += part if isinstance(part, list) else [part] if isinstance(part, str) else []
    return out


def _codes(found: list) -> list[tuple[str | None, str | None, str]]:
    out = []
    for value in found:
        if isinstance(value, str):
            out.append((None, value, ""))
        elif isinstance(value, dict):
            for coding in value.get("coding", [value] if "code" in value else []):
                out.append((coding.get("system"), coding.get("code"), coding.get("display", "")))
            if value.get("text"):
                out.append((None, None, value["text"]))
            if "value" in value:
                out.append((value.get("system"), value["value"], ""))
    return out


def matches(kind: str, found: list, value: str, modifier: str = "") -> bool:
    """Whether one value (no commas) matches these FHIRPath results."""
    if kind == "string":
        texts = _strings(found)
        if modifier == "exact":
            return value in texts
        if modifier == "contains":
            return any(fold(value) in fold(t) for t in texts)
        return any(fold(t).startswith(fold(value)) for t in texts)
    if kind == "token":
        codes = _codes(found)
        if modifier == "text":
            return any(fold(text).startswith(fold(value)) for _, _, text in codes if text)
        if "|" not in value:
            return any(code == value for _, code, _ in codes)
        system, code = value.split("|")
        if not code:
            return any(s == system for s, _, _ in codes)
        return any((s or "") == system and c == code for s, c, _ in codes)
    if kind == "reference":
        refs = [v.get("reference", "") for v in found if isinstance(v, dict)]
        return any(ref == value or "/" not in value and ref.endswith("/" + value) for ref in refs)
    if kind == "date":  # day precision, on UTC instants: the ISO strings compare as the days do
        prefix, day = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
        days = [v[:len(day)] for v in found if isinstance(v, str)]
        compare = {"eq": str.__eq__, "ne": str.__ne__, "gt": str.__gt__, "lt": str.__lt__, "ge": str.__ge__,
                   "le": str.__le__, "sa": str.__gt__, "eb": str.__lt__}[prefix]
        return any(compare(d, day) for d in days)
    raise AssertionError(f"no oracle for {kind}")


def search(resources: dict[str, dict], resource_type: str, name: str, value: str, modifier: str = "") -> set[str]:
    """The ids of `resource_type` whose `name` matches `value` (a comma = any of)."""
    param = parameter(resource_type, name)
    found = set()
    for resource in resources.values():
        if resource["resourceType"] != resource_type:
            continue
        evaluated = values(resource, param["expression"])
        parts = [part.replace("\\,", ",") for part in re.split(r"(?<!\\),", value)]
        if any(matches(param["type"], evaluated, part, modifier) for part in parts):
            found.add(resource["id"])
    return found
