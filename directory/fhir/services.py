"""HealthcareService: what an organization offers (hcs-N), and a practitioner's telehealth (hcs-virtual-N)."""

from __future__ import annotations

from directory.fhir import ids
from directory.fhir.codes import (
    EXTENSION,
    NUCC_SYSTEM,
    ORGANIZATION_CODES,
    PROFILE,
    SERVICE_CATEGORY,
    SYSTEM,
    Canonicals,
    service_specialty_allowed,
)
from directory.fhir.elements import (
    concept,
    last_verified,
    meta,
    new_patients,
    opening_hours,
    reference,
    telecom,
    tidy,
)
from directory.fhir.listing import _description
from directory.fhir.records import ListingRecord


def delivery_method(kind: str) -> dict:
    """Plan-Net's delivery-method extension: "physical" or "virtual" (modalities unknown to us)."""
    display = {"physical": "Physical", "virtual": "Virtual"}[kind]
    return {"url": EXTENSION["delivery-method"],
            "extension": [{"url": "type", "valueCodeableConcept": concept(SYSTEM["DeliveryMethodCS"], kind, display)}]}


def _specialties(record: ListingRecord) -> list[dict]:
    return [concept(NUCC_SYSTEM, s.code, s.display) for s in record.specialties if service_specialty_allowed(s.code)]


def _category(code: str) -> dict:
    return concept(SYSTEM["HealthcareServiceCategoryCS"], code, SERVICE_CATEGORY[code])


def organization_service(record: ListingRecord, canon: Canonicals) -> dict:
    listing = record.listing
    org_type = record.organization.org_type if record.organization else "practice"
    methods = [delivery_method("physical")] + ([delivery_method("virtual")] if listing.telehealth else [])
    first = record.locations[0] if record.locations else None
    resource = {
        "resourceType": "HealthcareService", "id": ids.service(listing.id),
        "meta": meta(PROFILE["HealthcareService"], listing.updated_at),
        "extension": [new_patients(listing.accepting_new_patients), *methods,
                      *last_verified(canon, listing.last_verified)],
        "active": True,
        "providedBy": reference("Organization", ids.organization(listing.id), listing.name),
        "category": [_category(ORGANIZATION_CODES[org_type][1])],
        "specialty": _specialties(record),
        "location": [reference("Location", ids.location(loc.id)) for loc in record.locations],
        "name": listing.name,
        "comment": _description(record),
        "telecom": telecom(first) if first is not None else [],
        "availableTime": opening_hours(first.hours or {}, "availableStartTime", "availableEndTime") if first else [],
    }
    if listing.website:
        resource["endpoint"] = [reference("Endpoint", ids.endpoint(listing.id))]
    return tidy(resource)


def virtual_service(record: ListingRecord, canon: Canonicals) -> dict | None:
    """A practitioner's telehealth visits, or None when the practitioner offers none."""
    listing = record.listing
    if not listing.telehealth:
        return None
    places = [row.location for row in record.roles] or record.locations
    first = places[0] if places else None
    intermediary = None
    if first is not None and first.listing_id != listing.id:
        intermediary = reference("Organization", ids.organization(first.listing_id))
    resource = {
        "resourceType": "HealthcareService", "id": ids.virtual_service(listing.id),
        "meta": meta(PROFILE["HealthcareService"], listing.updated_at),
        "extension": [new_patients(listing.accepting_new_patients), delivery_method("virtual"),
                      *last_verified(canon, listing.last_verified)],
        "active": True,
        "category": [_category("prov")],
        "specialty": _specialties(record),
        "name": f"Telehealth with {listing.name}",
        "telecom": telecom(first, intermediary) if first is not None else [],
    }
    if listing.website:
        resource["endpoint"] = [reference("Endpoint", ids.endpoint(listing.id))]
    return tidy(resource)
