"""A Plan-Net profile checker driven by the vendored package's snapshots.

Checked, per resource against the profile its meta.profile names: cardinality; fixed and pattern
values; required bindings to value sets the package defines (the NUCC lists included); the
extensions each element may carry and their own shape; reference target types; and every
invariant (`constraint`) of severity error or warning on the snapshot's elements -- Plan-Net's own
(pd-1, new-patients-characteristics, plan-type-is-distinct ...), core's inherited ones (ele-1,
ext-1, dom-*, org-*, us-core-16..19 on identifier slices), and core's per-1 and cpt-2 on elements
of type Period and ContactPoint (CORE_TYPE_CONSTRAINTS) -- evaluated with fhirpathpy on each
instance of the element (the resource itself at the root, extension slices told apart by URL,
identifier slices by their pattern), and each Plan-Net extension's own definition likewise on
each instance. False or empty fails; an error-severity failure is an error, a warning one a
warning; an expression that raises is an error unless its key is in SKIPPED. hasValue(), which
fhirpathpy lacks, is supplied (FHIR_FUNCTIONS).

Reported, not failed: bindings to value sets from packages we do not vendor, the must-support
elements a set of resources never populates, warning-severity invariants, skipped invariants.

Not checked: the cardinality of pattern slices (identifier:NPI ...), bindings to core value sets,
other core datatype invariants (ref-1, qty-*, att-1, txt-*: they live in core's definitions, not
vendored, not in Plan-Net's snapshots), datatype invariants below the snapshot's elements (e.g.
Identifier.period), primitive extensions (`_name`; the mapping emits none), and anything that needs
resolve() across resources.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from fhirpathpy import compile as fhirpath
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

PLAN_NET = Path(__file__).resolve().parent.parent / "fixtures" / "plan-net"
PLAN_NET_SD = "http://hl7.org/fhir/us/davinci-pdex-plan-net/StructureDefinition/"
# Extensions from outside Plan-Net that the mapping may use, and where.
CORE_EXTENSIONS = {"http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                   "http://hl7.org/fhir/StructureDefinition/geolocation"}


@cache
def _package() -> dict[str, dict]:
    """Every vendored definition by canonical URL."""
    found = {}
    for path in PLAN_NET.glob("*.json"):
        resource = json.loads(path.read_text())
        if "url" in resource:
            found[resource["url"]] = resource
    return found


def definition(url: str) -> dict | None:
    return _package().get(url.split("|")[0])


@cache
def expand(url: str) -> frozenset[tuple[str, str]] | None:
    """(system, code) pairs of a value set the package defines, or None when it cannot be expanded
    here; (system, "*") stands for every code of a code system the package does not hold."""
    vs = definition(url)
    if vs is None or vs.get("resourceType") != "ValueSet":
        return None

    def part(rule: dict) -> set[tuple[str, str]] | None:
        found: set[tuple[str, str]] = set()
        for inner in rule.get("valueSet", ()):
            more = expand(inner)
            if more is None:
                return None
            found |= more
        system = rule.get("system")
        if system and rule.get("concept"):
            found |= {(system, c["code"]) for c in rule["concept"]}
        elif system:
            cs = definition(system)
            if rule.get("filter"):
                return None
            # A whole code system from outside the package: any of its codes passes ("*").
            found |= {(system, "*")} if cs is None else {(system, code) for code in _codes(cs.get("concept", []))}
        return found

    codes: set[tuple[str, str]] = set()
    for rule in vs.get("compose", {}).get("include", ()):
        included = part(rule)
        if included is None:
            return None
        codes |= included
    for rule in vs.get("compose", {}).get("exclude", ()):
        codes -= part(rule) or set()
    return frozenset(codes)


def _codes(concepts: list[dict]) -> list[str]:
    return [code for c in concepts for code in [c["code"], *_codes(c.get("concept", []))]]


def _children(value, name: str) -> list:
    """The values of `name` (choice names like value[x] included) in an element, as a list."""
    if not isinstance(value, dict):
        return []
    if name.endswith("[x]"):
        base = name[:-3]
        found = [v for k, v in value.items() if k.startswith(base) and k[len(base):][:1].isupper()]
    else:
        found = [value[name]] if name in value else []
    return [item for v in found for item in (v if isinstance(v, list) else [v])]


def _at(resource: dict, path: str) -> list:
    values = [resource]
    for name in path.split(".")[1:]:
        values = [child for value in values for child in _children(value, name)]
    return values


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unchecked_bindings: set[str] = field(default_factory=set)
    populated: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # Severity -> "definition name element-id key" of each constraint evaluated at least once.
    invariants: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    evaluations: int = 0  # constraint x element x resource; `runs` of them went to fhirpathpy, the rest were remembered
    runs: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # constraint key -> why, for those met


def _in_value_set(value, codes: frozenset[tuple[str, str]]) -> bool:
    if isinstance(value, str):
        return any(code == value for _, code in codes)
    codings = value.get("coding", []) if "coding" in value else [value]
    return any((c.get("system"), c.get("code")) in codes or (c.get("system"), "*") in codes for c in codings)


def _target_types(element: dict) -> set[str]:
    types = set()
    for kind in element.get("type", ()):
        for target in kind.get("targetProfile", ()):
            sd = definition(target)
            types.add(sd["type"] if sd else target.rsplit("/", 1)[-1])
    return types


def _check_element(element: dict, resource: dict, where: str, report: Report) -> None:
    path = element["path"]
    parent, _, name = path.rpartition(".")
    values = []
    for owner in _at(resource, parent) if parent else []:
        mine = _children(owner, name)
        values += mine
        maximum = element.get("max", "*")
        if len(mine) < element.get("min", 0):
            report.errors.append(f"{where}: {path} has {len(mine)}, at least {element['min']} required")
        if maximum != "*" and len(mine) > int(maximum):
            report.errors.append(f"{where}: {path} has {len(mine)}, at most {maximum} allowed")
    for key, expected in element.items():
        if key.startswith(("fixed", "pattern")):
            for value in values:
                if key.startswith("fixed") and value != expected or (
                        key.startswith("pattern") and not _matches(value, expected)):
                    report.errors.append(f"{where}: {path} is {value!r}, the profile fixes {expected!r}")
    binding = element.get("binding", {})
    if binding.get("strength") == "required" and values:
        codes = expand(binding["valueSet"])
        if codes is None:
            report.unchecked_bindings.add(binding["valueSet"])
        else:
            for value in values:
                if not _in_value_set(value, codes):
                    report.errors.append(f"{where}: {path} {value!r} is not in {binding['valueSet']}")
    targets = _target_types(element)
    for value in values:
        ref = value.get("reference") if isinstance(value, dict) else None
        if targets and ref and ref.split("/")[0] not in targets:
            report.errors.append(f"{where}: {path} refers to {ref}, not one of {sorted(targets)}")


def _check_coded_slice(element: dict, resource: dict, where: str, report: Report) -> None:
    """A slice of coded values defined by a required binding (e.g. HealthcareService.category:
    plan-net-category): the values in its value set count against the slice's cardinality."""
    binding = element.get("binding", {})
    if (not element.get("sliceName") or element["path"].endswith(".extension") or element["id"].count(":") != 1
            or binding.get("strength") != "required"):
        return
    codes = expand(binding["valueSet"])
    if codes is None:
        report.unchecked_bindings.add(binding["valueSet"])
        return
    parent, _, name = element["path"].rpartition(".")
    for owner in _at(resource, parent):
        inside = [v for v in _children(owner, name) if _in_value_set(v, codes)]
        _count(len(inside), element, f"{where} {element['id']}", report)


def _matches(value, pattern) -> bool:
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(_matches(value.get(k), v) for k, v in pattern.items())
    if isinstance(pattern, list):
        return isinstance(value, list) and all(any(_matches(v, p) for v in value) for p in pattern)
    return value == pattern


def _extension_slices(sd: dict) -> dict[str, dict[str, dict]]:
    """Element path -> {extension URL: its slice element} declared by a profile."""
    found: dict[str, dict[str, dict]] = defaultdict(dict)
    for element in sd["snapshot"]["element"]:
        if element.get("sliceName") and element["path"].endswith(".extension") and ":" not in element["id"].rsplit(
                ".", 1)[0]:
            for kind in element.get("type", ()):
                for url in kind.get("profile", ()):
                    found[element["path"]][url] = element
    return found


def _check_extension(ext: dict, where: str, report: Report) -> None:
    """A Plan-Net extension instance against its own definition (sub-extensions and value)."""
    sd = definition(ext["url"])
    if sd is None:
        report.errors.append(f"{where}: unknown extension {ext['url']}")
        return
    for element in sd["snapshot"]["element"]:
        if element["id"].count(":") > 1 or element["path"] == "Extension":
            continue
        if ":" in element["id"]:  # a sub-extension slice, e.g. Extension.extension:acceptingPatients.value[x]
            head, _, rest = element["id"].partition(":")
            slice_name, _, sub_path = rest.partition(".")
            sub = [e for e in ext.get("extension", []) if e.get("url") == slice_name]
            if not sub_path:
                _count(len(sub), element, f"{where} {ext['url']}#{slice_name}", report)
            elif sub_path in ("value[x]",):
                for item in sub:
                    _check_element({**element, "path": "Extension.value[x]"}, item, f"{where} {slice_name}", report)
        elif element["path"] in ("Extension.value[x]",):
            _check_element(element, ext, where, report)
    declared = {e["sliceName"] for e in sd["snapshot"]["element"] if e.get("sliceName")}
    for sub in ext.get("extension", []):
        if sub.get("url") not in declared:
            report.errors.append(f"{where}: {ext['url']} has an undeclared part {sub.get('url')}")


def _count(count: int, element: dict, where: str, report: Report) -> None:
    maximum = element.get("max", "*")
    if count < element.get("min", 0) or (maximum != "*" and count > int(maximum)):
        report.errors.append(f"{where}: {count} present, {element.get('min', 0)}..{maximum} allowed")


def _walk_extensions(value, path: str, slices: dict, where: str, our_base: str, report: Report) -> None:
    if isinstance(value, list):
        if not value:
            report.errors.append(f"{where}: {path} is an empty array")
        for item in value:
            _walk_extensions(item, path, slices, where, our_base, report)
        return
    if not isinstance(value, dict):
        if value is None:
            report.errors.append(f"{where}: {path} is null")
        return
    for ext in value.get("extension", []):
        url = ext.get("url", "")
        if url.startswith(PLAN_NET_SD):
            if url not in slices.get(f"{path}.extension", {}):
                report.errors.append(f"{where}: {url} is not an extension {path} may carry")
            _check_extension(ext, where, report)
        elif not (url in CORE_EXTENSIONS or url.startswith(our_base)):
            report.errors.append(f"{where}: {path} carries an unknown extension {url}")
    for element, element_slices in slices.items():
        if element == f"{path}.extension":
            for url, slice_element in element_slices.items():
                _count(sum(e.get("url") == url for e in value.get("extension", [])), slice_element,
                       f"{where} {path} {url.rsplit('/', 1)[-1]}", report)
    for key, child in value.items():
        if key != "extension" and isinstance(child, dict | list):
            _walk_extensions(child, f"{path}.{key}", slices, where, our_base, report)
        elif child is None:
            report.errors.append(f"{where}: {path}.{key} is null")


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


def check(resources: list[dict], our_base: str) -> Report:
    """Check each resource against the Plan-Net profile its meta.profile names."""
    report = Report()
    for resource in resources:
        where = f"{resource['resourceType']}/{resource['id']}"
        [profile] = resource["meta"]["profile"]
        sd = definition(profile)
        if sd is None or sd["type"] != resource["resourceType"]:
            report.errors.append(f"{where}: {profile} is not a Plan-Net profile of this type")
            continue
        for element in sd["snapshot"]["element"]:
            if ":" in element["id"] or "." not in element["path"]:
                _check_coded_slice(element, resource, where, report)
                continue
            _check_element(element, resource, where, report)
            if _at(resource, element["path"]):
                report.populated[sd["name"]].add(element["path"])
        _walk_extensions(resource, sd["type"], _extension_slices(sd), where, our_base, report)
        _check_invariants(sd, resource, resource, where, report)
        for ext in _plan_net_extensions(resource):
            _check_invariants(definition(ext["url"]), ext, resource, f"{where} {ext['url'].rsplit('/', 1)[-1]}",
                              report)
        for path, url_slices in _extension_slices(sd).items():
            for url in url_slices:
                owners = _at(resource, path.rpartition(".")[0])
                if any(e.get("url") == url for owner in owners for e in owner.get("extension", [])):
                    report.populated[sd["name"]].add(f"{path}:{url.rsplit('/', 1)[-1]}")
    return report


def must_support_gaps(report: Report) -> dict[str, list[str]]:
    """Per profile, the must-support elements (and extension slices) no resource populated."""
    gaps = {}
    for sd in _package().values():
        if sd.get("resourceType") != "StructureDefinition" or not sd["name"].startswith("Plannet"):
            continue
        never = []
        for element in sd["snapshot"]["element"]:
            if not element.get("mustSupport") or "." not in element["path"]:
                continue
            if element.get("sliceName") and element["path"].endswith(".extension"):
                urls = [u for t in element.get("type", ()) for u in t.get("profile", ())]
                key = f"{element['path']}:{urls[0].rsplit('/', 1)[-1]}" if urls else element["id"]
            elif ":" in element["id"]:
                continue
            else:
                key = element["path"]
            if key not in report.populated.get(sd["name"], ()):
                never.append(key)
        gaps[sd["name"]] = sorted(set(never))
    return gaps


def invariant_summary(report: Report) -> list[str]:
    """What the invariant check did: constraints evaluated, warnings met, keys skipped."""
    lines = [f"Invariants evaluated: {len(report.invariants['error'])} error and "
             f"{len(report.invariants['warning'])} warning constraints (definition, element, key), "
             f"{report.evaluations} evaluations ({report.runs} run by fhirpathpy, the rest remembered)"]
    counted: dict[str, int] = defaultdict(int)
    for warning in report.warnings:
        counted[warning.split(": ", 1)[1]] += 1
    lines += [f"Warning x{count}: {text}" for text, count in sorted(counted.items())]
    lines += [f"Skipped {key}: {why}" for key, why in sorted(report.skipped.items())] or ["Skipped: none"]
    return lines
