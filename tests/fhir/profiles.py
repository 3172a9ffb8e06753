"""A Plan-Net profile checker driven by the vendored package's snapshots.

Checked, per resource against the profile its meta.profile names: cardinality; fixed and pattern
values; required bindings to value sets the package defines (the NUCC lists included); the
extensions each element may carry and their own shape; reference target types; and every
invariant (`constraint`) of severity error or warning on the snapshot's elements -- Plan-Net's own
(pd-1, new-patients-characteristics, plan-type-is-distinct ...), core's inherited ones (ele-1,
ext-1, dom-*, org-*, us-core-16..19 on identifier slices), and core's per-1 and cpt-2 on elements
of type Period and ContactPoint (`invariants.CORE_TYPE_CONSTRAINTS`) -- evaluated with fhirpathpy on each
instance of the element (the resource itself at the root, extension slices told apart by URL,
identifier slices by their pattern), and each Plan-Net extension's own definition likewise on
each instance. False or empty fails; an error-severity failure is an error, a warning one a
warning; an expression that raises is an error unless its key is in `invariants.SKIPPED`. hasValue(), which
fhirpathpy lacks, is supplied (`invariants.FHIR_FUNCTIONS`). The package and the report are in
`package`.

Reported, not failed: bindings to value sets from packages we do not vendor, the must-support
elements a set of resources never populates, warning-severity invariants, skipped invariants.

Not checked: the cardinality of pattern slices (identifier:NPI ...), bindings to core value sets,
other core datatype invariants (ref-1, qty-*, att-1, txt-*: they live in core's definitions, not
vendored, not in Plan-Net's snapshots), datatype invariants below the snapshot's elements (e.g.
Identifier.period), primitive extensions (`_name`; the mapping emits none), and anything that needs
resolve() across resources.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache

from tests.fhir.invariants import _check_invariants, _plan_net_extensions
from tests.fhir.package import CORE_EXTENSIONS, PLAN_NET_SD, Report, _children, _package, definition


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


def _at(resource: dict, path: str) -> list:
    values = [resource]
    for name in path.split(".")[1:]:
        values = [child for value in values for child in _children(value, name)]
    return values


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
