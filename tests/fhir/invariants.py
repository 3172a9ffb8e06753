"""The invariant half of the Plan-Net profile checker (`profiles`): each `constraint` of severity
error or warning on a profile's snapshot elements (and core's per-1 and cpt-2 on elements of type
Period and ContactPoint), evaluated with fhirpathpy on each instance of its element."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from fhirpathpy import compile as fhirpath
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from tests.fhir.package import PLAN_NET_SD, Report, _children, definition

# Constraint keys whose expressions fhirpathpy cannot evaluate, and why; met, they are reported, never
# run. Plan-Net 1.2.0's snapshots need none (core's txt-1, htmlChecks(), is on Narrative, not in them);
# test_profiles holds this table to the functions the package's expressions call.
SKIPPED: dict[str, str] = {}
# FHIR's own FHIRPath functions that fhirpathpy lacks and that are simple enough to supply here.
FHIR_FUNCTIONS = {"hasValue": {"fn": lambda inputs: [len(inputs) == 1 and inputs[0] is not None
                                                     and not isinstance(inputs[0], dict | list)]}}
# Invariants of core datatypes, which live in core's definitions (not vendored), not in Plan-Net's
# snapshots; copied from FHIR R4 (4.0.1) ContactPoint and Period, run on each snapshot element of
# that type. (Reference's ref-1 is left out: the mapping emits no contained resources.)
CORE_TYPE_CONSTRAINTS = {
    "ContactPoint": ({"key": "cpt-2", "severity": "error", "human": "A system is required if a value is provided.",
                      "expression": "value.empty() or system.exists()"},),
    "Period": ({"key": "per-1", "severity": "error", "human": "If present, start SHALL have a lower value than end",
                "expression": "start.hasValue().not() or end.hasValue().not() or (start <= end)"},),
}
KEYWORDS = {"and", "as", "contains", "div", "implies", "in", "is", "mod", "or", "xor"}


@cache
def _invariant(selection: str, expression: str):
    """The compiled test of one constraint over every instance `selection` picks ("" = the root)."""
    text = f"{selection}.all({expression})" if selection else expression
    return fhirpath(text, model=models["r4"], options={"userInvocationTable": FHIR_FUNCTIONS,
                                                       "traceFn": lambda label, value: None})


@cache
def _elements(sd_url: str) -> dict[str, dict]:
    return {element["id"]: element for element in definition(sd_url)["snapshot"]["element"]}


def _extension_url(sd_url: str, slice_id: str) -> str | None:
    """The URL an extension slice stands for: its profile, or the fixed url of a complex part."""
    element = _elements(sd_url)[slice_id]
    urls = [u for kind in element.get("type", ()) for u in kind.get("profile", ())]
    return urls[0] if urls else _elements(sd_url).get(f"{slice_id}.url", {}).get("fixedUri")


def _slice_filter(sd_url: str, slice_id: str) -> str | None:
    """FHIRPath keeping the members of one slice, or None when this checker cannot tell them apart."""
    element = _elements(sd_url)[slice_id]
    name = element["path"].rsplit(".", 1)[-1]
    if name in ("extension", "modifierExtension"):
        url = _extension_url(sd_url, slice_id)
        return f".where(url = '{url}')" if url else None
    if name.endswith("[x]") and len(element.get("type", ())) == 1:
        return f".ofType({element['type'][0]['code']})"
    pattern = next((v for k, v in element.items() if k.startswith(("pattern", "fixed"))), None)
    if isinstance(pattern, dict) and all(isinstance(v, str) for v in pattern.values()):
        return ".where(" + " and ".join(f"{k} = '{v}'" for k, v in pattern.items()) + ")"
    return None


@cache
def _selection(sd_url: str, element_id: str) -> str | None:
    """FHIRPath picking every instance of a snapshot element from the definition's root."""
    parts = element_id.split(".")
    steps = []
    for i, part in enumerate(parts[1:], start=2):
        name, _, slice_name = part.partition(":")
        name = name.removesuffix("[x]")
        step = f"`{name}`" if name in KEYWORDS else name
        if slice_name:
            where = _slice_filter(sd_url, ".".join(parts[:i]))
            if where is None:
                return None
            step += where
        steps.append(step)
    return ".".join(steps)


@dataclass(frozen=True)
class _Tested:
    """One snapshot element with constraints, ready to test: how to find its instances (steps of
    child name and extension URL), the FHIRPath that selects them, and the constraints to run."""
    element: dict
    steps: tuple[tuple[str, str | None], ...]
    selection: str | None
    constraints: tuple[dict, ...]


@cache
def _tested(sd_url: str) -> tuple[_Tested, ...]:
    elements = _elements(sd_url)
    found = []
    for element in elements.values():
        parts = element["id"].split(".")
        steps = []
        for i, part in enumerate(parts[1:], start=2):
            name, _, slice_name = part.partition(":")
            extension = slice_name and name in ("extension", "modifierExtension")
            steps.append((name, _extension_url(sd_url, ".".join(parts[:i])) if extension else None))
        # A slice's members are instances of the sliced element, which carries the core rules too.
        sliced = elements.get(element["id"].rpartition(":")[0], {}) if element.get("sliceName") else {}
        covered = {c["key"] for c in sliced.get("constraint", ())}
        types = [kind["code"] for kind in element.get("type", ())]
        inherited = CORE_TYPE_CONSTRAINTS.get(types[0], ()) if len(types) == 1 else ()
        constraints = tuple(c for c in (*element.get("constraint", ()), *inherited) if c["key"] not in covered)
        if constraints:
            found.append(_Tested(element, tuple(steps), _selection(sd_url, element["id"]), constraints))
    return tuple(found)


def _instances(steps: tuple[tuple[str, str | None], ...], root: dict) -> list:
    """The values at a snapshot element, extension slices told apart by URL, other slices not (so
    a superset of what the element's selection picks)."""
    values = [root]
    for name, url in steps:
        values = [child for value in values for child in _children(value, name)]
        if url:
            values = [v for v in values if v.get("url") == url]
        if not values:
            break
    return values


def _check_invariants(sd: dict, root: dict, resource: dict, where: str, report: Report) -> None:
    """Every error and warning constraint of `sd`'s snapshot, on each instance of its element in
    `root` (the resource, or one extension of it)."""
    node = root if "resourceType" in root else ResourceNode.create_node(root, "Extension")
    for tested in _tested(sd["url"]):
        element, selection = tested.element, tested.selection
        instances = _instances(tested.steps, root)
        if not instances:
            continue
        # Without %variables a verdict depends only on the instances (and where they sit), so it is
        # remembered by their JSON: the demo repeats codings, extensions and telecoms many times.
        content = None if instances == [resource] else json.dumps(instances, sort_keys=True)
        for constraint in tested.constraints:
            key, severity = constraint["key"], constraint["severity"]
            if key in SKIPPED:
                report.skipped[key] = SKIPPED[key]
                continue
            if selection is None:
                report.errors.append(f"{where}: cannot select {element['id']} to test {key}")
                continue
            report.invariants[severity].add(f"{sd['name']} {element['id']} {key}")
            report.evaluations += 1
            memo = (sd["url"], element["id"], key, content) if content and "%" not in constraint["expression"] else None
            if memo in _VERDICTS:
                holds = _VERDICTS[memo]
            else:
                try:
                    holds = _holds(selection, constraint, node, resource, report)
                except Exception as error:  # an expression fhirpathpy cannot run is a finding, not a pass
                    report.errors.append(f"{where}: {sd['name']} {element['id']} {key} raised {error!r}")
                    continue
                if memo:
                    _VERDICTS[memo] = holds
            if not holds:
                found = report.errors if severity == "error" else report.warnings
                found.append(f"{where}: {sd['name']} {element['id']} {key} fails: {constraint['human']}")


_VERDICTS: dict[tuple, bool] = {}


def _holds(selection: str, constraint: dict, node, resource: dict, report: Report) -> bool:
    """True only when the constraint is true on every instance; false or empty fails."""
    report.runs += 1
    return _invariant(selection, constraint["expression"])(node, {"resource": resource}) == [True]


def _plan_net_extensions(value):
    """Every Plan-Net extension in a resource, nested ones included."""
    if isinstance(value, list):
        for item in value:
            yield from _plan_net_extensions(item)
    elif isinstance(value, dict):
        if str(value.get("url", "")).startswith(PLAN_NET_SD) and definition(value["url"]):
            yield value
        for child in value.values():
            yield from _plan_net_extensions(child)
