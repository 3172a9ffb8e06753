"""The CapabilityStatement (/fhir/metadata), generated from the dispatcher's table."""

from __future__ import annotations

from datetime import date

from directory.fhir.codes import PLAN_NET_CS, Canonicals
from directory.fhir.definitions import definition_url
from directory.fhir.dispatch import TYPES
from directory.fhir.parameters import PARAMS, references

SOFTWARE = "IVIG Provider Directory"


def _includes(resource_type: str) -> tuple[list[str], list[str]]:
    """The `_include` (this type's references) and `_revinclude` (references to it) it answers."""
    forward = [f"{resource_type}:{p.name}" for p in references(resource_type)]
    backward = [f"{source}:{p.name}" for source in PARAMS for p in references(source) if resource_type in p.targets]
    return forward, backward


def capability_statement(base_url: str, version: str, published: date, canon: Canonicals | None = None) -> dict:
    """What this server does: read (and, where the table says, search) each Plan-Net type, JSON
    only, FHIR 4.0.1, no security (the directory is public)."""
    canon = canon or Canonicals()
    resources = []
    for entry in TYPES.values():
        resource = {"type": entry.type, "profile": entry.profiles[0], "interaction": [
            {"code": code} for code in entry.interactions]}
        if len(entry.profiles) > 1:
            resource["supportedProfile"] = list(entry.profiles)
        forward, backward = _includes(entry.type) if entry.search else ([], [])
        if forward:
            resource["searchInclude"] = forward
        if backward:
            resource["searchRevInclude"] = backward
        if entry.search:
            resource["searchParam"] = [{"name": p.name, "definition": definition_url(p, entry.type, canon),
                                        "type": p.type, **({"documentation": p.documentation} if p.documentation
                                                           else {})} for p in entry.search]
        resources.append(resource)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": published.isoformat(),
        "publisher": SOFTWARE,
        "kind": "instance",
        "instantiates": [PLAN_NET_CS],
        "software": {"name": SOFTWARE, "version": version},
        "implementation": {"description": "Read-only provider directory in the shape of Da Vinci PDex Plan-Net",
                           "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["json", "application/fhir+json"],
        "rest": [{"mode": "server", "documentation": "Public, no authentication; JSON only.",
                  "resource": resources, "interaction": []}],
    }
