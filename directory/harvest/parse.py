"""Reading one page (a search Bundle) of a Plan-Net directory into what the harvest applies:
the networks it describes, the plan types of InsurancePlans, each assertion that a provider (by NPI)
is in a network, and the organizations a HealthcareService lists. Nothing here writes; every
resource that cannot be used is reported with the page and skipped.

A network's payer is its `partOf` display, else the name of the Organization it refers to (in the
page, or on any page read before in the run), else the source's payer. A network a page refers to
without including it is resolved from the pages read before (the networks search comes first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from directory.fhir.codes import PRODUCT_TYPE  # reading our own FHIR vocabulary back
from directory.harvest import elements as el
from directory.npi import is_valid_npi
from directory.reference import plan_types

PLAN_TYPES = {code: ours for ours, (code, _display) in PRODUCT_TYPE.items()}
MATCH_TYPES = {"networks": "Organization", "plans": "InsurancePlan", "roles": "PractitionerRole",
               "affiliations": "OrganizationAffiliation", "services": "HealthcareService"}


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
class Listed:
    """An organization a HealthcareService offers a specialty we carry at: a listing to have, with
    no network (Plan-Net gives a service none; participation comes from OrganizationAffiliation)."""

    provider: Provider
    accepting: bool | None
    resource: str


@dataclass
class ParsedPage:
    networks: dict[str, NetworkSeen] = field(default_factory=dict)
    plan_types: dict[str, str] = field(default_factory=dict)  # network reference -> our plan type
    assertions: list[Assertion] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    newest: datetime | None = None
    providers: list[Provider] = field(default_factory=list)  # every provider of a role or affiliation read
    listed: list[Listed] = field(default_factory=list)
    skipped: int = 0  # resources of no use here (specialties we do not carry, other payers)


class PageReader:
    """Reads the pages of one run. `specialties` are the NUCC codes we carry (`service_specialties`
    those a HealthcareService is read for, by default the same); `payer`, when set, is the only payer
    whose networks the source speaks for. It remembers payers' names and networks across pages."""

    def __init__(self, specialties: set[str], payer: str | None = None, service_specialties: set[str] | None = None):
        self.specialties = specialties
        self.service_specialties = specialties if service_specialties is None else service_specialties
        self.payer = payer
        self.payer_names: dict[str, str] = {}  # a network's partOf ("Organization/id") -> the payer's name
        self.known: dict[str, NetworkSeen] = {}  # every network read so far, any payer's

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
            updated = el.updated(resource)
            if updated is not None and (parsed.newest is None or updated > parsed.newest):
                parsed.newest = updated
            if (entry.get("search") or {}).get("mode", "match") == "match":
                matches.append(resource)
        for key, resource in found.items():
            if resource["resourceType"] == "Organization" and "ntwk" in el.codes(resource.get("type"),
                                                                                  el.ORG_TYPE_SYSTEM):
                self._network(key, resource, found, parsed, page)
        want = MATCH_TYPES[stage]
        for resource in matches:
            where = f"{resource['resourceType']}/{resource['id']} on page {page}"
            if resource["resourceType"] != want:
                parsed.problems.append(f"{where}: a {resource['resourceType']} where {want} was asked for")
            elif stage == "plans":
                self._plan(resource, found, parsed, where)
            elif stage == "roles":
                self._role(resource, found, parsed, where)
            elif stage == "affiliations":
                self._affiliation(resource, found, parsed, where)
            elif stage == "services":
                self._service(resource, found, parsed, where)
        return parsed

    def _ours(self, seen: NetworkSeen) -> bool:
        return self.payer is None or seen.payer == self.payer

    def _network(self, key: str, resource: dict, found: dict, parsed: ParsedPage, page: str) -> None:
        part_of = resource.get("partOf") or {}
        payer_org = found.get(el.key(part_of) or "") or {}
        if isinstance(payer_org.get("name"), str) and payer_org["name"].strip():
            self.payer_names[el.key(part_of)] = payer_org["name"].strip()
        earlier = self.known.get(key)
        payer = (part_of.get("display") or self.payer_names.get(el.key(part_of) or "")
                 or (earlier.payer if earlier else None) or self.payer)
        name = resource.get("name")
        if not payer or not isinstance(name, str) or not name.strip():
            parsed.problems.append(f"{key} on page {page}: a network without a name or payer")
            return
        seen = self.known[key] = NetworkSeen(payer=payer.strip(), name=name.strip())
        if self._ours(seen):
            parsed.networks[key] = seen

    def _plan(self, resource: dict, found: dict, parsed: ParsedPage, where: str) -> None:
        """An InsurancePlan's product type becomes its networks' plan type (networks read before)."""
        codes = el.any_codes(resource.get("type"))
        ours = next((PLAN_TYPES.get(c) or (c if c in plan_types() else None) for c in codes
                     if PLAN_TYPES.get(c) or c in plan_types()), None)
        if ours is None:
            parsed.skipped += 1
            return
        for key in self._networks_of(resource.get("network") or [], found, parsed, where):
            parsed.plan_types[key] = ours

    def _provider(self, reference: object, kind: str, where: str, parsed: ParsedPage, found: dict) -> Provider | None:
        if el.key(reference) is None:
            parsed.problems.append(f"{where}: it names no {kind}; skipped")
            return None
        resource = found.get(el.key(reference))
        if resource is None:
            parsed.problems.append(f"{where}: its {kind} is not in the page (a bad reference)")
            return None
        npi = el.npi(resource)
        if not npi:
            parsed.problems.append(f"{where}: its {kind} {resource['id']} has no NPI")
            return None
        if not is_valid_npi(npi):
            parsed.problems.append(f"{where}: its {kind} {resource['id']} has an invalid NPI {npi!r}")
            return None
        names = [n for n in resource.get("name") or [] if isinstance(n, dict)] if kind == "practitioner" else []
        name = names[0] if names else {}
        given = name.get("given") or []
        provider = Provider(kind=kind, npi=npi, updated=el.updated(resource),
                            name=(name.get("text") if kind == "practitioner" else resource.get("name")) or "")
        if kind == "practitioner":
            provider.first_name = given[0] if given else None
            provider.last_name = name.get("family")
            provider.credentials = ", ".join(name.get("suffix") or []) or None
        else:
            provider.org_type = el.org_type(resource)
        return provider

    def _locations(self, refs: object, found: dict) -> list[dict]:
        places = []
        for ref in refs if isinstance(refs, list) else []:
            loc = found.get(el.key(ref) or "")
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
            key = el.key(ref)
            earlier = self.known.get(key or "")
            if key is not None and key not in found and earlier is not None and self._ours(earlier):
                parsed.networks[key] = earlier  # read on an earlier page, not included in this one
            if key in parsed.networks:
                keys.append(key)
            elif key is None or key not in found and earlier is None:
                parsed.problems.append(f"{where}: network {key or ref!r} is not in the page (a bad reference)")
            else:
                parsed.skipped += 1  # another payer's network (or one reported above)
        return keys

    def _role(self, role: dict, found: dict, parsed: ParsedPage, where: str) -> None:
        codes = [c for c in el.codes(role.get("specialty"), el.NUCC_SYSTEM) if c in self.specialties]
        if not codes:
            parsed.skipped += 1
            return
        provider = self._provider(role.get("practitioner"), "practitioner", where, parsed, found)
        if provider is None:
            return
        provider.specialties = codes
        provider.locations = self._locations(role.get("location"), found)
        parsed.providers.append(provider)
        refs = [e.get("valueReference") for e in role.get("extension") or []
                if isinstance(e, dict) and e.get("url") == el.NETWORK_REFERENCE]
        own, places = el.new_patients(role), self._places_say(role, found)
        period = role.get("period") or {}
        for key in self._networks_of(refs, found, parsed, where):
            parsed.assertions.append(Assertion(
                provider=provider, network=key, start=el.day(period.get("start")), end=el.day(period.get("end")),
                accepting=el.accepting(key, own, places), resource=where))

    @staticmethod
    def _places_say(resource: dict, found: dict) -> list[dict[str | None, bool]]:
        """What the `newpatients` of the resource's locations (those in the page) say."""
        return [el.new_patients(found.get(el.key(ref) or "")) for ref in resource.get("location") or []]

    def _affiliation(self, affiliation: dict, found: dict, parsed: ParsedPage, where: str) -> None:
        codes = [c for c in el.codes(affiliation.get("specialty"), el.NUCC_SYSTEM) if c in self.specialties]
        if not codes:
            parsed.skipped += 1
            return
        provider = self._provider(affiliation.get("participatingOrganization"), "organization", where, parsed, found)
        if provider is None:
            return
        provider.specialties = codes
        provider.org_type = el.org_type(found[el.key(affiliation["participatingOrganization"])],
                                        affiliation_role=el.any_codes(affiliation.get("code")))
        provider.locations = self._locations(affiliation.get("location"), found)
        parsed.providers.append(provider)
        places = self._places_say(affiliation, found)
        period = affiliation.get("period") or {}
        for network in self._networks_of(affiliation.get("network") or [], found, parsed, where):
            parsed.assertions.append(Assertion(
                provider=provider, network=network, start=el.day(period.get("start")),
                end=el.day(period.get("end")), accepting=el.accepting(network, {}, places), resource=where))

    def _service(self, service: dict, found: dict, parsed: ParsedPage, where: str) -> None:
        codes = [c for c in el.codes(service.get("specialty"), el.NUCC_SYSTEM) if c in self.service_specialties]
        if not codes or service.get("providedBy") is None:
            parsed.skipped += 1  # not a specialty of a place we list, or no organization's (a telehealth visit)
            return
        provider = self._provider(service["providedBy"], "organization", where, parsed, found)
        if provider is None:
            return
        provider.specialties = codes
        provider.org_type = el.org_type(found[el.key(service["providedBy"])], specialties=codes,
                                        category=el.any_codes(service.get("category")))
        provider.locations = self._locations(service.get("location"), found)
        own = el.new_patients(service)
        parsed.listed.append(Listed(provider=provider, accepting=own.get(None, any(own.values()) if own else None),
                                    resource=where))
