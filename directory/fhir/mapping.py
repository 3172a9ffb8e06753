"""Every resource a listing or a set of networks gives, in a stable order: the one place that
says which resources exist (a read looks its id up here, so reads and searches agree)."""

from __future__ import annotations

from directory.fhir import listing, networks, roles, services
from directory.fhir.codes import Canonicals
from directory.fhir.records import ListingRecord
from directory.models import Network


def listing_resources(record: ListingRecord, canon: Canonicals) -> list[dict]:
    """An organization: Organization, its Locations, HealthcareService, one OrganizationAffiliation
    per payer, Endpoint. A practitioner: Practitioner, own Locations, PractitionerRoles, telehealth
    HealthcareService, Endpoint."""
    found: list[dict | None]
    if record.listing.kind == "organization":
        found = [listing.organization(record, canon)]
        found += [listing.location(record, loc, canon) for loc in record.locations]
        found += [services.organization_service(record, canon), *roles.affiliations(record, canon)]
    else:
        found = [listing.practitioner(record, canon)]
        found += [listing.location(record, loc, canon) for loc in record.locations]
        found += [*roles.practitioner_roles(record, canon), services.virtual_service(record, canon)]
    found.append(listing.endpoint(record, canon))
    return [resource for resource in found if resource is not None]


def network_resources(rows: list[Network], canon: Canonicals) -> list[dict]:
    """Each payer's Organization (once, from all its networks given), then each network's
    Organization and InsurancePlan."""
    by_payer: dict[str, list[Network]] = {}
    for row in rows:
        by_payer.setdefault(row.payer, []).append(row)
    found = [networks.payer(name, group) for name, group in by_payer.items()]
    for row in rows:
        found += [networks.network(row), networks.insurance_plan(row, canon)]
    return found


def resources_of_type(record: ListingRecord, resource_type: str, canon: Canonicals) -> list[dict]:
    """The resources of one type among `listing_resources(record)`, in the same order, mapping
    only those (a search reads one type)."""
    organization = record.listing.kind == "organization"
    found: list[dict | None]
    if resource_type == "Practitioner":
        found = [] if organization else [listing.practitioner(record, canon)]
    elif resource_type == "Organization":
        found = [listing.organization(record, canon)] if organization else []
    elif resource_type == "Location":
        found = [listing.location(record, loc, canon) for loc in record.locations]
    elif resource_type == "PractitionerRole":
        found = [] if organization else roles.practitioner_roles(record, canon)
    elif resource_type == "HealthcareService":
        found = [services.organization_service(record, canon) if organization
                 else services.virtual_service(record, canon)]
    elif resource_type == "OrganizationAffiliation":
        found = roles.affiliations(record, canon) if organization else []
    elif resource_type == "Endpoint":
        found = [listing.endpoint(record, canon)]
    else:
        found = []
    return [resource for resource in found if resource is not None]
