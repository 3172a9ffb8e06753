"""The search parameters each type answers: Plan-Net STU 1.1.0's CapabilityStatement (the same
list as 1.2.0's, vendored in tests/fixtures/plan-net/), and our extras (near, new-patient,
communication, delivery-method, _content), each with where its values are in a resource.

A path is a tuple of steps over the resource's JSON: a member name, or `Ext(url)` (the
extensions with that url). Lists are flattened at every step.
"""

from __future__ import annotations

from dataclasses import dataclass

from directory.fhir.codes import EXTENSION, PLAN_NET


@dataclass(frozen=True)
class Ext:
    url: str


@dataclass(frozen=True)
class Param:
    """A search parameter: name, FHIR type (string, token, reference, date, special), the path of
    its values, the types a reference may name, and its definition (a Plan-Net, core or our own
    SearchParameter: `ours` marks those that live under our canonical base)."""

    name: str
    type: str
    path: tuple = ()
    targets: tuple[str, ...] = ()
    definition: str = ""
    ours: bool = False
    documentation: str = ""

    def modifiers(self) -> frozenset[str]:
        return MODIFIERS.get(self.type, frozenset()) | (frozenset(self.targets) if self.type == "reference"
                                                       else frozenset())


MODIFIERS = {"string": frozenset({"exact", "contains"}), "token": frozenset({"text"})}
CORE = "http://hl7.org/fhir/SearchParameter"
SP = f"{PLAN_NET}/SearchParameter"
NEWPATIENTS = (Ext(EXTENSION["newpatients"]), Ext("acceptingPatients"), "valueCodeableConcept")


def _plan_net(base: str, name: str, kind: str, *path, targets: tuple[str, ...] = ()) -> Param:
    return Param(name, kind, tuple(path), targets, f"{SP}/{base.lower()}-{name}")


def _ours(name: str, kind: str, *path, documentation: str) -> Param:
    return Param(name, kind, tuple(path), (), name, ours=True, documentation=documentation)


def _ref(base: str, name: str, *path, target: str) -> Param:
    return _plan_net(base, name, "reference", *path, targets=(target,))


COMMON = (
    Param("_id", "token", ("id",), definition=f"{CORE}/Resource-id", documentation="Logical id (comma = any of)"),
    Param("_lastUpdated", "date", ("meta", "lastUpdated"), definition=f"{CORE}/Resource-lastUpdated",
          documentation="eq ne gt lt ge le sa eb ap, at any precision"),
    _ours("_content", "special", documentation="Typo-tolerant text search over names, places and services, "
          "in relevance order"),
)
NEW_PATIENT = _ours("new-patient", "token", *NEWPATIENTS,
                    documentation="Accepting new patients: AcceptingPatientsCS code (newpt, nopt)")
NEAR_DOC = ("lat|lon|distance|unit: within the distance (km unless unit is mi or [mi_i]; at most 500 mi), "
            "nearest first")
LOCATION_NEAR = _ours("location.near", "special", documentation=f"At a location {NEAR_DOC}")

_TABLE: dict[str, tuple[Param, ...]] = {
    "Endpoint": (_ref("Endpoint", "organization", "managingOrganization", target="Organization"),),
    "HealthcareService": (
        _ref("HealthcareService", "location", "location", target="Location"),
        _ref("HealthcareService", "coverage-area", "coverageArea", target="Location"),
        _ref("HealthcareService", "organization", "providedBy", target="Organization"),
        _ref("HealthcareService", "endpoint", "endpoint", target="Endpoint"),
        _plan_net("HealthcareService", "name", "string", "name"),
        _plan_net("HealthcareService", "service-category", "token", "category"),
        _plan_net("HealthcareService", "service-type", "token", "type"),
        _plan_net("HealthcareService", "specialty", "token", "specialty"),
        _plan_net("HealthcareService", "delivery-method", "token", Ext(EXTENSION["delivery-method"]), Ext("type"),
                  "valueCodeableConcept"),
        NEW_PATIENT, LOCATION_NEAR,
    ),
    "InsurancePlan": (
        _ref("InsurancePlan", "administered-by", "administeredBy", target="Organization"),
        _ref("InsurancePlan", "owned-by", "ownedBy", target="Organization"),
        _ref("InsurancePlan", "coverage-area", "coverageArea", target="Location"),
        Param("name", "string", ("name",), definition=f"{SP}/insuranceplan-name"),  # name | alias: no alias here
        _plan_net("InsurancePlan", "plan-type", "token", "plan", "type"),
        _plan_net("InsurancePlan", "identifier", "token", "identifier"),
        _plan_net("InsurancePlan", "type", "token", "type"),
    ),
    "Location": (
        _ref("Location", "partof", "partOf", target="Location"),
        _ref("Location", "organization", "managingOrganization", target="Organization"),
        _ref("Location", "endpoint", "endpoint", target="Endpoint"),
        _plan_net("Location", "address-city", "string", "address", "city"),
        _plan_net("Location", "address-state", "string", "address", "state"),
        _plan_net("Location", "address-postalcode", "string", "address", "postalCode"),
        _plan_net("Location", "address", "string", "address"),
        _plan_net("Location", "type", "token", "type"),
        _ours("near", "special", documentation=f"Located {NEAR_DOC}"),
        NEW_PATIENT,
    ),
    "Organization": (
        _ref("Organization", "partof", "partOf", target="Organization"),
        _ref("Organization", "endpoint", "endpoint", target="Endpoint"),
        _plan_net("Organization", "address", "string", "address"),
        _plan_net("Organization", "name", "string", "name"),  # Organization.name | alias: no alias here
        _plan_net("Organization", "type", "token", "type"),
        _ref("Organization", "coverage-area", Ext(EXTENSION["location-reference"]), "valueReference",
             target="Location"),
    ),
    "OrganizationAffiliation": (
        _ref("OrganizationAffiliation", "primary-organization", "organization", target="Organization"),
        _ref("OrganizationAffiliation", "participating-organization", "participatingOrganization",
             target="Organization"),
        _ref("OrganizationAffiliation", "location", "location", target="Location"),
        _ref("OrganizationAffiliation", "service", "healthcareService", target="HealthcareService"),
        _ref("OrganizationAffiliation", "network", "network", target="Organization"),
        _ref("OrganizationAffiliation", "endpoint", "endpoint", target="Endpoint"),
        _plan_net("OrganizationAffiliation", "role", "token", "code"),
        _plan_net("OrganizationAffiliation", "specialty", "token", "specialty"),
        LOCATION_NEAR,
    ),
    "Practitioner": (
        _plan_net("Practitioner", "name", "string", "name"),
        Param("family", "string", ("name", "family"), definition=f"{SP}/practitioner-family-name"),
        Param("given", "string", ("name", "given"), definition=f"{SP}/practitioner-given-name"),
        _ours("communication", "token", "communication",
              documentation="A language the practitioner speaks: BCP-47 code (urn:ietf:bcp:47|es)"),
    ),
    "PractitionerRole": (
        _ref("PractitionerRole", "practitioner", "practitioner", target="Practitioner"),
        _ref("PractitionerRole", "organization", "organization", target="Organization"),
        _ref("PractitionerRole", "location", "location", target="Location"),
        _ref("PractitionerRole", "service", "healthcareService", target="HealthcareService"),
        _ref("PractitionerRole", "network", Ext(EXTENSION["network-reference"]), "valueReference",
             target="Organization"),
        _ref("PractitionerRole", "endpoint", "endpoint", target="Endpoint"),
        _plan_net("PractitionerRole", "role", "token", "code"),
        _plan_net("PractitionerRole", "specialty", "token", "specialty"),
        NEW_PATIENT, LOCATION_NEAR,
    ),
}

PARAMS: dict[str, dict[str, Param]] = {
    kind: {p.name: p for p in (*params, *COMMON)} for kind, params in _TABLE.items()}


def references(resource_type: str) -> list[Param]:
    """The reference parameters of a type: what `_include` and `_revinclude` may name."""
    return [p for p in PARAMS[resource_type].values() if p.type == "reference"]
