"""Canonical URLs and code tables of the Plan-Net mapping (Plan-Net STU 1.1.0 / 1.2.0 share them)."""

from __future__ import annotations

from dataclasses import dataclass

PLAN_NET = "http://hl7.org/fhir/us/davinci-pdex-plan-net"
PLAN_NET_CS = f"{PLAN_NET}/CapabilityStatement/plan-net"
PLAN_NET_SD = f"{PLAN_NET}/StructureDefinition"
PLAN_NET_CODES = f"{PLAN_NET}/CodeSystem"

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
NUCC_SYSTEM = "http://nucc.org/provider-taxonomy"
BCP47_SYSTEM = "urn:ietf:bcp:47"
V2_0203_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
GEOLOCATION = "http://hl7.org/fhir/StructureDefinition/geolocation"

PROFILE = {name: f"{PLAN_NET_SD}/plannet-{name}" for name in (
    "Practitioner", "PractitionerRole", "Organization", "Network", "OrganizationAffiliation", "Location",
    "HealthcareService", "InsurancePlan", "Endpoint")}
EXTENSION = {name: f"{PLAN_NET_SD}/{name}" for name in (
    "newpatients", "network-reference", "via-intermediary", "accessibility", "delivery-method",
    "org-description", "contactpoint-availabletime", "location-reference", "qualification")}
SYSTEM = {name: f"{PLAN_NET_CODES}/{name}" for name in (
    "OrgTypeCS", "InsuranceProductTypeCS", "ProviderRoleCS", "AcceptingPatientsCS", "AccessibilityCS",
    "HealthcareServiceCategoryCS", "DeliveryMethodCS", "OrganizationAffiliationRoleCS",
    "EndpointConnectionTypeCS", "EndpointPayloadTypeCS")}

DEFAULT_CANONICAL_BASE = "https://ivig-directory.example.org/fhir"


@dataclass(frozen=True)
class Canonicals:
    """Where our own definitions live (config FHIR_CANONICAL_BASE): the `last-verified`
    extension and the code system of the plan types Plan-Net has no code for."""

    base: str = DEFAULT_CANONICAL_BASE

    @property
    def last_verified(self) -> str:
        return f"{self.base}/StructureDefinition/last-verified"

    @property
    def plan_type_system(self) -> str:
        return f"{self.base}/CodeSystem/plan-type"


ORG_TYPE = {"fac": "Facility", "prvgrp": "Provider Group", "payer": "Payer", "ntwk": "Network"}
# Our organization type -> (OrgTypeCS, HealthcareServiceCategoryCS, OrganizationAffiliationRoleCS).
ORGANIZATION_CODES = {
    "infusion_center": ("fac", "outpat", "outpatient"),
    "hospital_infusion": ("fac", "outpat", "hospital"),
    "home_infusion": ("fac", "home", "home"),
    "specialty_pharmacy": ("fac", "pharm", "pharmacy"),
    "practice": ("prvgrp", "prov", "group"),
}
SERVICE_CATEGORY = {"outpat": "Clinic or Outpatient Facility", "home": "Home Health", "pharm": "Pharmacy",
                    "prov": "Medical Provider"}
AFFILIATION_ROLE = {"outpatient": "Clinic or Outpatient Facility", "hospital": "Hospital",
                    "home": "Home Health Provider", "pharmacy": "Pharmacy", "group": "Medical Group"}

# Our plan type -> InsuranceProductTypeCS (the rest go to our own plan-type code system).
PRODUCT_TYPE = {
    "PPO": ("commppo", "Commercial PPO"), "HMO": ("commhmo", "Commercial HMO"),
    "EPO": ("commepo", "Commercial EPO"), "POS": ("commpos", "Commercial POS"),
    "HDHP": ("commhdhp", "Commercial HDHP"), "MEDICARE": ("mediab", "Medicare A/B"),
    "MEDICARE_ADVANTAGE": ("mediadv", "Medicare Advantage"), "MEDICAID": ("medi", "Medicaid"),
    "MEDICAID_MANAGED_CARE": ("medihmo", "Medicaid HMO"), "MARKETPLACE": ("qhp", "Qualified Health Plan"),
    "TRICARE": ("tri", "TRICARE"), "VA": ("va", "Veterans Affairs Plan"),
}

# NUCC code prefix -> ProviderRoleCS (longest prefix first); a code matching none gets no role code.
PROVIDER_ROLE = (
    ("363L", "crnp", "Certified Registered Nurse Practitioner"),
    ("363A", "pa", "Physician Assistant"),
    ("364S", "apn", "Advanced Practice Nursing Providers"),
    ("163W", "rn", "Registered Nurse"),
    ("20", "ph", "Physician"),
)

ACCEPTING = {True: ("newpt", "Accepting"), False: ("nopt", "Not Accepting")}
GENDER = {"F": "female", "M": "male", "X": "other"}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# NUCC codes of our taxonomy (seed_data/taxonomy.csv) that Plan-Net's value sets leave out: a
# PractitionerRole's specialty must be in IndividualAndGroupSpecialtiesVS (the "individual"
# section, less these), a service's or affiliation's in SpecialtiesVS (every section, less these).
# tests/fhir checks both rules against the package's value sets.
NOT_IN_INDIVIDUAL_AND_GROUP = frozenset({"193400000X"})
NOT_IN_SPECIALTIES = frozenset({"193400000X"})


def role_specialty_allowed(code: str, section: str) -> bool:
    """Whether a NUCC code may be a PractitionerRole's specialty (IndividualAndGroupSpecialtiesVS)."""
    return section == "individual" and code not in NOT_IN_INDIVIDUAL_AND_GROUP


def service_specialty_allowed(code: str) -> bool:
    """Whether a NUCC code may be a HealthcareService's or OrganizationAffiliation's specialty."""
    return code not in NOT_IN_SPECIALTIES


def provider_role(nucc: str) -> tuple[str, str] | None:
    """The ProviderRoleCS (code, display) of a NUCC specialty, if the table has one."""
    for prefix, code, display in PROVIDER_ROLE:
        if nucc.startswith(prefix):
            return code, display
    return None
