"""The vendored Plan-Net 1.2.0 package (tests/fixtures/plan-net) as the profile checker
(`profiles`) and its invariant half (`invariants`) read it, and the report they fill."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

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
