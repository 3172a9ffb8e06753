"""Reading one page (a search Bundle) of a Plan-Net directory into what the harvest applies:
the networks it describes, the plan types of InsurancePlans, and each assertion that a provider
(by NPI) is in a network. Nothing here writes; every resource that cannot be used is reported with
the page and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from directory.fhir.codes import PRODUCT_TYPE  # reading our own FHIR vocabulary back
from directory.npi import is_valid_npi
from directory.reference import plan_types

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
NUCC_SYSTEM = "http://nucc.org/provider-taxonomy"
PLAN_NET = "http://hl7.org/fhir/us/davinci-pdex-plan-net/StructureDefinition/"
NETWORK_REFERENCE = PLAN_NET + "network-reference"
NEW_PATIENTS = PLAN_NET + "newpatients"
ORG_TYPES = {"fac": "infusion_center", "prvgrp": "practice"}
PLAN_TYPES = {code: ours for ours, (code, _display) in PRODUCT_TYPE.items()}
MATCH_TYPES = {"networks": "Organization", "plans": "InsurancePlan", "roles": "PractitionerRole",
               "affiliations": "OrganizationAffiliation"}


@dataclass(frozen=True)
class NetworkSeen:
    payer: str
    name: str


@dataclass
class Provider:
    """What a listing made from the source needs (used only for an NPI we do not have)."""

    kind: str
    npi: str
    name: str
    updated: datetime | None
    first_name: str | None = None
    last_name: str | None = None
    credentials: str | None = None
    org_type: str = "infusion_center"
    specialties: list[str] = field(default_factory=list)
    locations: list[dict] = field(default_factory=list)  # address, city, state, zip


@dataclass
class Assertion:
    """`provider` is in `network` (a reference) for `period`, accepting new patients or not (None:
    the source does not say)."""

    provider: Provider
    network: str
    start: date | None
    end: date | None
    accepting: bool | None
    resource: str


@dataclass
class ParsedPage:
    networks: dict[str, NetworkSeen] = field(default_factory=dict)
    plan_types: dict[str, str] = field(default_factory=dict)  # network reference -> our plan type
    assertions: list[Assertion] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    newest: datetime | None = None
    providers: list[Provider] = field(default_factory=list)  # every provider read, in a network or not
    skipped: int = 0  # resources of no use here (specialties we do not carry, other payers)


def _updated(resource: dict) -> datetime | None:
    raw = (resource.get("meta") or {}).get("lastUpdated")
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")) if isinstance(raw, str) else None
    except ValueError:
        return None


def _key(reference: object) -> str | None:
    """"Type/id" of a reference (relative or absolute), or None."""
    if not isinstance(reference, dict) or not isinstance(reference.get("reference"), str):
        return None
    parts = reference["reference"].rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else None


def _codes(concepts: object, system: str) -> list[str]:
    return [c.get("code") for concept in concepts if isinstance(concept, dict)
            for c in concept.get("coding") or [] if isinstance(c, dict) and c.get("system") == system] \
        if isinstance(concepts, list) else []


def _date(raw: object) -> date | None:
    try:
        return date.fromisoformat(raw[:10]) if isinstance(raw, str) else None
    except ValueError:
        return None


def _npi(resource: dict) -> str | None:
    for ident in resource.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") == NPI_SYSTEM:
            return str(ident.get("value") or "")
    return None


class PageReader:
    """Reads pages of one source. `specialties` are the NUCC codes we carry; `payer`, when set, is the
    only payer whose networks the source speaks for."""

    def __init__(self, specialties: set[str], payer: str | None = None):
        self.specialties = specialties
        self.payer = payer

    def read(self, stage: str, bundle: dict, page: str) -> ParsedPage:
        parsed = ParsedPage()
        found: dict[str, dict] = {}
        matches: list[dict] = []
        for n, entry in enumerate(bundle.get("entry") or []):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict) or not resource.get("resourceType") or not resource.get("id"):
                parsed.problems.append(f"entry {n} of page {page}: not a resource with a type and id")
                continue
            found[f"{resource['resourceType']}/{resource['id']}"] = resource
            updated = _updated(resource)
            if updated is not None and (parsed.newest is None or updated > parsed.newest):
                parsed.newest = updated
            if (entry.get("search") or {}).get("mode", "match") == "match":
                matches.append(resource)
        for key, resource in found.items():
            if resource["resourceType"] == "Organization" and "ntwk" in _codes(
                    resource.get("type"), PLAN_NET.replace("StructureDefinition/", "CodeSystem/OrgTypeCS")):
                self._network(key, resource, parsed, page)
        want = MATCH_TYPES[stage]
        for resource in matches:
            where = f"{resource['resourceType']}/{resource['id']} on page {page}"
            if resource["resourceType"] != want:
                parsed.problems.append(f"{where}: a {resource['resourceType']} where {want} was asked for")
            elif stage == "plans":
                self._plan(resource, parsed)
            elif stage == "roles":
                self._role(resource, found, parsed, where)
            elif stage == "affiliations":
                self._affiliation(resource, found, parsed, where)
        return parsed

    def _network(self, key: str, resource: dict, parsed: ParsedPage, page: str) -> None:
        payer = (resource.get("partOf") or {}).get("display") or self.payer
        name = resource.get("name")
        if not payer or not isinstance(name, str) or not name.strip():
            parsed.problems.append(f"{key} on page {page}: a network without a name or payer")
        elif self.payer is None or payer == self.payer:
            parsed.networks[key] = NetworkSeen(payer=payer.strip(), name=name.strip())

    def _plan(self, resource: dict, parsed: ParsedPage) -> None:
        codes = _codes(resource.get("type"), "") or [c.get("code") for t in resource.get("type") or []
                                                    for c in (t.get("coding") or []) if isinstance(c, dict)]
        ours = next((PLAN_TYPES.get(c) or (c if c in plan_types() else None) for c in codes
                     if PLAN_TYPES.get(c) or c in plan_types()), None)
        for ref in resource.get("network") or []:
            if ours is not None and _key(ref):
                parsed.plan_types[_key(ref)] = ours

    def _provider(self, resource: dict | None, kind: str, where: str, parsed: ParsedPage) -> Provider | None:
        if resource is None:
            parsed.problems.append(f"{where}: its {kind} is not in the page (a bad reference)")
            return None
        npi = _npi(resource)
        if not npi:
            parsed.problems.append(f"{where}: its {kind} {resource['id']} has no NPI")
            return None
        if not is_valid_npi(npi):
            parsed.problems.append(f"{where}: its {kind} {resource['id']} has an invalid NPI {npi!r}")
            return None
        names = [n for n in resource.get("name") or [] if isinstance(n, dict)] if kind == "practitioner" else []
        name = names[0] if names else {}
        given = name.get("given") or []
        provider = Provider(kind=kind, npi=npi, updated=_updated(resource),
                            name=(name.get("text") if kind == "practitioner" else resource.get("name")) or "")
        if kind == "practitioner":
            provider.first_name = given[0] if given else None
            provider.last_name = name.get("family")
            provider.credentials = ", ".join(name.get("suffix") or []) or None
        else:
            types = _codes(resource.get("type"), PLAN_NET.replace("StructureDefinition/", "CodeSystem/OrgTypeCS"))
            provider.org_type = next((ORG_TYPES[t] for t in types if t in ORG_TYPES), "infusion_center")
        return provider

    def _locations(self, refs: object, found: dict) -> list[dict]:
        places = []
        for ref in refs if isinstance(refs, list) else []:
            loc = found.get(_key(ref) or "")
            address = (loc or {}).get("address") or {}
            if loc is None or not address.get("postalCode"):
                continue
            places.append({"address": ", ".join(address.get("line") or []) or "(address not given)",
                           "city": address.get("city") or "", "state": address.get("state") or "",
                           "zip": str(address["postalCode"])[:5]})
        return places

    def _networks_of(self, refs: list, found: dict, parsed: ParsedPage, where: str) -> list[str]:
        keys = []
        for ref in refs:
            key = _key(ref)
            if key in parsed.networks:
                keys.append(key)
            elif key is None or key not in found:
                parsed.problems.append(f"{where}: network {key or ref!r} is not in the page (a bad reference)")
            else:
                parsed.skipped += 1  # a network of another payer
        return keys

    def _role(self, role: dict, found: dict, parsed: ParsedPage, where: str) -> None:
        codes = [c for c in _codes(role.get("specialty"), NUCC_SYSTEM) if c in self.specialties]
        if not codes:
            parsed.skipped += 1
            return
        provider = self._provider(found.get(_key(role.get("practitioner")) or ""), "practitioner", where, parsed)
        if provider is None:
            return
        provider.specialties = codes
        provider.locations = self._locations(role.get("location"), found)
        parsed.providers.append(provider)
        refs = [e.get("valueReference") for e in role.get("extension") or []
                if isinstance(e, dict) and e.get("url") == NETWORK_REFERENCE]
        accepting: dict[str | None, bool] = {}
        for ext in role.get("extension") or []:
            if isinstance(ext, dict) and ext.get("url") == NEW_PATIENTS:
                parts = {e.get("url"): e for e in ext.get("extension") or [] if isinstance(e, dict)}
                said = _codes([(parts.get("acceptingPatients") or {}).get("valueCodeableConcept")],
                              PLAN_NET.replace("StructureDefinition/", "CodeSystem/AcceptingPatientsCS"))
                if said:
                    accepting[_key((parts.get("fromNetwork") or {}).get("valueReference"))] = said[0] == "newpt"
        period = role.get("period") or {}
        for key in self._networks_of(refs, found, parsed, where):
            parsed.assertions.append(Assertion(
                provider=provider, network=key, start=_date(period.get("start")), end=_date(period.get("end")),
                accepting=accepting.get(key, accepting.get(None)), resource=where))

    def _affiliation(self, affiliation: dict, found: dict, parsed: ParsedPage, where: str) -> None:
        codes = [c for c in _codes(affiliation.get("specialty"), NUCC_SYSTEM) if c in self.specialties]
        if not codes:
            parsed.skipped += 1
            return
        key = _key(affiliation.get("participatingOrganization")) or ""
        provider = self._provider(found.get(key), "organization", where, parsed)
        if provider is None:
            return
        provider.specialties = codes
        provider.locations = self._locations(affiliation.get("location"), found)
        parsed.providers.append(provider)
        period = affiliation.get("period") or {}
        for network in self._networks_of(affiliation.get("network") or [], found, parsed, where):
            parsed.assertions.append(Assertion(
                provider=provider, network=network, start=_date(period.get("start")),
                end=_date(period.get("end")), accepting=None, resource=where))
