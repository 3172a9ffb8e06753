"""PractitionerRole (a role in each of the practitioner's networks) and OrganizationAffiliation
(an organization with each payer whose networks it is in)."""

from __future__ import annotations

from directory.fhir import ids
from directory.fhir.codes import (
    AFFILIATION_ROLE,
    DATA_ABSENT_REASON,
    EXTENSION,
    NUCC_SYSTEM,
    ORGANIZATION_CODES,
    PROFILE,
    SYSTEM,
    Canonicals,
    provider_role,
    role_specialty_allowed,
    service_specialty_allowed,
)
from directory.fhir.elements import (
    concept,
    last_verified,
    latest,
    meta,
    new_patients,
    opening_hours,
    reference,
    telecom,
    tidy,
)
from directory.fhir.records import ListingRecord, Membership, RoleRow


def _period(start, end) -> dict | None:
    period = {}
    if start is not None:
        period["start"] = start.isoformat()
    if end is not None:
        period["end"] = end.isoformat()
    return period or None


def _role_specialty(record: ListingRecord, row: RoleRow) -> list:
    """The role's NUCC specialty (else the practitioner's primary one), when Plan-Net's
    IndividualAndGroupSpecialtiesVS has it."""
    sections = {s.code: s for s in record.specialties}
    code = row.role.specialty_code
    if code is None and record.specialties:
        code = record.specialties[0].code
    found = sections.get(code)
    if found is None or not role_specialty_allowed(found.code, found.section):
        return []
    return [found]


def practitioner_role(record: ListingRecord, row: RoleRow, membership: Membership | None,
                      canon: Canonicals) -> dict:
    listing, role, loc = record.listing, row.role, row.location
    network = None if membership is None else membership.network
    network_ref = None if network is None else reference("Organization", ids.network(network.id), network.name)
    updated = latest(listing.updated_at) if network is None else latest(listing.updated_at, network.updated_at)
    extensions = [new_patients(role.accepting_new_patients, network_ref)]
    if network_ref is not None:
        extensions.append({"url": EXTENSION["network-reference"], "valueReference": network_ref})
    specialties = _role_specialty(record, row)
    codes = [provider_role(s.code) for s in specialties]
    # The phone at an organization's location is its front desk: reached through the organization.
    intermediary = None
    if loc.listing_id != listing.id:
        intermediary = reference("Organization", ids.organization(loc.listing_id))
    resource = {
        "resourceType": "PractitionerRole", "id": ids.role(role.id, None if network is None else network.id),
        "meta": meta(PROFILE["PractitionerRole"], updated),
        "extension": extensions + last_verified(canon, listing.last_verified),
        "active": True,
        "period": None if membership is None else _period(membership.start, membership.end),
        "practitioner": reference("Practitioner", ids.practitioner(listing.id), listing.name),
        "organization": (None if role.organization_id is None
                         else reference("Organization", ids.organization(role.organization_id))),
        "code": [concept(SYSTEM["ProviderRoleCS"], *code) for code in codes if code is not None],
        "specialty": [concept(NUCC_SYSTEM, s.code, s.display) for s in specialties],
        "location": [reference("Location", ids.location(loc.id), loc.name)],
        "healthcareService": ([reference("HealthcareService", ids.virtual_service(listing.id))]
                              if listing.telehealth and role.telehealth else []),
        "telecom": telecom(loc, intermediary),
        "availableTime": opening_hours(loc.hours or {}, "availableStartTime", "availableEndTime"),
    }
    if listing.website:
        resource["endpoint"] = [reference("Endpoint", ids.endpoint(listing.id))]
    elif not resource["telecom"]:
        # pd-1: a role has contact details or an endpoint; with neither known, say so.
        resource["endpoint"] = [{"extension": [{"url": DATA_ABSENT_REASON, "valueCode": "unknown"}],
                                 "display": "Unknown"}]
    return tidy(resource)


def practitioner_roles(record: ListingRecord, canon: Canonicals) -> list[dict]:
    """One PractitionerRole per role and network (role-N-M), or per role (role-N) when the
    practitioner is in no network: Plan-Net allows one network per role."""
    memberships: list[Membership | None] = list(record.memberships) or [None]
    return [practitioner_role(record, row, membership, canon) for row in record.roles for membership in memberships]


def affiliations(record: ListingRecord, canon: Canonicals) -> list[dict]:
    """One OrganizationAffiliation per payer whose networks the organization is in (aff-N-<payer>)."""
    listing = record.listing
    by_payer: dict[str, list[Membership]] = {}
    for membership in record.memberships:
        by_payer.setdefault(membership.network.payer, []).append(membership)
    org_type = record.organization.org_type if record.organization else "practice"
    role = ORGANIZATION_CODES[org_type][2]
    first = record.locations[0] if record.locations else None
    resources = []
    for payer, memberships in by_payer.items():
        updated = latest(listing.updated_at, *(m.network.updated_at for m in memberships))
        starts = [m.start for m in memberships]
        resource = {
            "resourceType": "OrganizationAffiliation", "id": ids.affiliation(listing.id, payer),
            "meta": meta(PROFILE["OrganizationAffiliation"], updated),
            "extension": last_verified(canon, listing.last_verified),
            "active": True,
            # The earliest start, when every network's start is known.
            "period": _period(min(starts), None) if all(s is not None for s in starts) else None,
            "organization": reference("Organization", ids.payer(payer), payer),
            "participatingOrganization": reference("Organization", ids.organization(listing.id), listing.name),
            "network": [reference("Organization", ids.network(m.network.id), m.network.name) for m in memberships],
            "code": [concept(SYSTEM["OrganizationAffiliationRoleCS"], role, AFFILIATION_ROLE[role])],
            "specialty": [concept(NUCC_SYSTEM, s.code, s.display) for s in record.specialties
                          if service_specialty_allowed(s.code)],
            "location": [reference("Location", ids.location(loc.id)) for loc in record.locations],
            "healthcareService": [reference("HealthcareService", ids.service(listing.id))],
            "telecom": telecom(first) if first is not None else [],
        }
        if listing.website:
            resource["endpoint"] = [reference("Endpoint", ids.endpoint(listing.id))]
        resources.append(tidy(resource))
    return resources
