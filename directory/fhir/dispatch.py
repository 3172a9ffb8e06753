"""The dispatcher's table: each resource type served, its Plan-Net profiles, and what may be done
with it. The web layer routes by it and the CapabilityStatement is generated from it, so the two
cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass, field

from directory.fhir.codes import PROFILE
from directory.fhir.parameters import PARAMS, Param


@dataclass(frozen=True)
class ResourceEntry:
    type: str
    profiles: tuple[str, ...]
    interactions: tuple[str, ...] = ("read",)
    search: tuple[Param, ...] = field(default_factory=tuple)


def _entry(resource_type: str, *profiles: str) -> ResourceEntry:
    return ResourceEntry(resource_type, tuple(PROFILE[p] for p in profiles), ("read", "search-type"),
                         tuple(PARAMS[resource_type].values()))


TYPES: dict[str, ResourceEntry] = {entry.type: entry for entry in (
    _entry("Endpoint", "Endpoint"),
    _entry("HealthcareService", "HealthcareService"),
    _entry("InsurancePlan", "InsurancePlan"),
    _entry("Location", "Location"),
    _entry("Organization", "Organization", "Network"),
    _entry("OrganizationAffiliation", "OrganizationAffiliation"),
    _entry("Practitioner", "Practitioner"),
    _entry("PractitionerRole", "PractitionerRole"),
    # Our own search parameters' definitions (read only).
    ResourceEntry("SearchParameter", ("http://hl7.org/fhir/StructureDefinition/SearchParameter",)),
)}
