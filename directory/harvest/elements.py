"""Reading the parts of Plan-Net resources the harvest uses: references, codes, dates, the NPI, the
`newpatients` extension, and which of our organization types a resource describes."""

from __future__ import annotations

from datetime import date, datetime

from directory.fhir.codes import ORGANIZATION_CODES  # reading our own FHIR vocabulary back

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
NUCC_SYSTEM = "http://nucc.org/provider-taxonomy"
PLAN_NET = "http://hl7.org/fhir/us/davinci-pdex-plan-net/StructureDefinition/"
PLAN_NET_CODES = "http://hl7.org/fhir/us/davinci-pdex-plan-net/CodeSystem/"
NETWORK_REFERENCE = PLAN_NET + "network-reference"
NEW_PATIENTS = PLAN_NET + "newpatients"
ORG_TYPE_SYSTEM = PLAN_NET_CODES + "OrgTypeCS"
ORG_TYPES = {"fac": "infusion_center", "prvgrp": "practice"}
# HealthcareServiceCategoryCS and OrganizationAffiliationRoleCS -> our organization type (the first
# of ours that publishes the code: "outpat" is an infusion centre's, unless a hospital's specialty says).
BY_CATEGORY = {codes[1]: ours for ours, codes in reversed(ORGANIZATION_CODES.items())}
BY_AFFILIATION_ROLE = {codes[2]: ours for ours, codes in ORGANIZATION_CODES.items()}
HOSPITAL_CODES = "282N"  # NUCC General Acute Care Hospital and its children's hospital


def updated(resource: dict) -> datetime | None:
    raw = (resource.get("meta") or {}).get("lastUpdated")
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")) if isinstance(raw, str) else None
    except ValueError:
        return None


def key(reference: object) -> str | None:
    """"Type/id" of a reference (relative or absolute), or None."""
    if not isinstance(reference, dict) or not isinstance(reference.get("reference"), str):
        return None
    parts = reference["reference"].rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else None


def codes(concepts: object, system: str) -> list[str]:
    return [c.get("code") for concept in concepts if isinstance(concept, dict)
            for c in concept.get("coding") or [] if isinstance(c, dict) and c.get("system") == system] \
        if isinstance(concepts, list) else []


def any_codes(concepts: object) -> list[str]:
    """Every code of the concepts, whatever its system."""
    return [c.get("code") for concept in concepts if isinstance(concept, dict)
            for c in concept.get("coding") or [] if isinstance(c, dict)] if isinstance(concepts, list) else []


def day(raw: object) -> date | None:
    try:
        return date.fromisoformat(raw[:10]) if isinstance(raw, str) else None
    except ValueError:
        return None


def npi(resource: dict) -> str | None:
    for ident in resource.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") == NPI_SYSTEM:
            return str(ident.get("value") or "")
    return None


def new_patients(resource: dict | None) -> dict[str | None, bool]:
    """What a resource's `newpatients` extensions say: network reference ("Type/id") -> accepting new
    patients, None for a statement that names no network. Only "newpt" accepts; "nopt",
    "existptonly" and "existptfam" do not."""
    said: dict[str | None, bool] = {}
    for ext in (resource or {}).get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == NEW_PATIENTS:
            parts = {e.get("url"): e for e in ext.get("extension") or [] if isinstance(e, dict)}
            found = codes([(parts.get("acceptingPatients") or {}).get("valueCodeableConcept")],
                          PLAN_NET_CODES + "AcceptingPatientsCS")
            if found:
                said[key((parts.get("fromNetwork") or {}).get("valueReference"))] = found[0] == "newpt"
    return said


def accepting(network: str, own: dict[str | None, bool], places: list[dict[str | None, bool]]) -> bool | None:
    """Whether a role (or affiliation) accepts new patients in `network`: its own statement for that
    network, else its own general one, else what its locations say (accepting if any of them does),
    else None (the source does not say)."""
    if network in own or None in own:
        return own.get(network, own.get(None))
    at_places = [p.get(network, p.get(None)) for p in places]
    known = [a for a in at_places if a is not None]
    return any(known) if known else None


def org_type(organization: dict, *, category: list[str] = (), affiliation_role: list[str] = (),
             specialties: list[str] = ()) -> str:
    """Our organization type: from an affiliation's role or a service's category when given, else from
    the Organization's type (a facility: an infusion centre; a provider group: a practice)."""
    for code in affiliation_role:
        if code in BY_AFFILIATION_ROLE:
            return BY_AFFILIATION_ROLE[code]
    for code in category:
        if code in BY_CATEGORY:
            found = BY_CATEGORY[code]
            if found == "infusion_center" and any(s.startswith(HOSPITAL_CODES) for s in specialties):
                return "hospital_infusion"
            return found
    types = codes(organization.get("type"), ORG_TYPE_SYSTEM)
    return next((ORG_TYPES[t] for t in types if t in ORG_TYPES), "infusion_center")
