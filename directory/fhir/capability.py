"""The CapabilityStatement (/fhir/metadata), generated from the dispatcher's table."""

from __future__ import annotations

from datetime import date

from directory.fhir.codes import PLAN_NET_CS
from directory.fhir.dispatch import TYPES

SOFTWARE = "IVIG Provider Directory"


def capability_statement(base_url: str, version: str, published: date) -> dict:
    """What this server does: read (and, where the table says, search) each Plan-Net type, JSON
    only, FHIR 4.0.1, no security (the directory is public)."""
    resources = []
    for entry in TYPES.values():
        resource = {"type": entry.type, "profile": entry.profiles[0], "interaction": [
            {"code": code} for code in entry.interactions]}
        if len(entry.profiles) > 1:
            resource["supportedProfile"] = list(entry.profiles)
        if entry.search:
            resource["searchParam"] = [{"name": p.name, "definition": p.definition, "type": p.type,
                                        "documentation": p.documentation} for p in entry.search]
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
