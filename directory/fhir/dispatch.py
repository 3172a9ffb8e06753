"""The dispatcher's table: each resource type served, its Plan-Net profiles, and what may be done
with it. The web layer routes by it and the CapabilityStatement is generated from it, so the two
cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass, field

from directory.fhir.codes import PROFILE


@dataclass(frozen=True)
class SearchParam:
    """A search parameter the server answers: name, FHIR type, and its definition's canonical URL."""

    name: str
    type: str
    definition: str
    documentation: str = ""


@dataclass(frozen=True)
class ResourceEntry:
    type: str
    profiles: tuple[str, ...]
    interactions: tuple[str, ...] = ("read",)
    search: tuple[SearchParam, ...] = field(default_factory=tuple)


_ID = SearchParam("_id", "token", "http://hl7.org/fhir/SearchParameter/Resource-id", "Logical id (comma = any of)")


def _entry(resource_type: str, *profiles: str, search: tuple[SearchParam, ...] = ()) -> ResourceEntry:
    interactions = ("read", "search-type") if search else ("read",)
    return ResourceEntry(resource_type, tuple(PROFILE[p] for p in profiles), interactions, search)


TYPES: dict[str, ResourceEntry] = {entry.type: entry for entry in (
    _entry("Endpoint", "Endpoint"),
    _entry("HealthcareService", "HealthcareService"),
    _entry("InsurancePlan", "InsurancePlan"),
    _entry("Location", "Location"),
    _entry("Organization", "Organization", "Network"),
    _entry("OrganizationAffiliation", "OrganizationAffiliation"),
    _entry("Practitioner", "Practitioner", search=(_ID,)),
    _entry("PractitionerRole", "PractitionerRole"),
)}
