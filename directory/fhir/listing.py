"""A listing's own resources: Practitioner, Organization, its Locations and its website's Endpoint."""

from __future__ import annotations

from directory import reference as vocabulary
from directory.fhir import ids
from directory.fhir.codes import (
    BCP47_SYSTEM,
    EXTENSION,
    GENDER,
    NPI_SYSTEM,
    ORG_TYPE,
    ORGANIZATION_CODES,
    PROFILE,
    SYSTEM,
    V2_0203_SYSTEM,
    Canonicals,
)
from directory.fhir.elements import (
    address,
    concept,
    last_verified,
    meta,
    new_patients,
    opening_hours,
    reference,
    telecom,
    tidy,
)
from directory.fhir.records import ListingRecord
from directory.models import Location


def npi(value: str) -> dict:
    return {"use": "official", "type": concept(V2_0203_SYSTEM, "NPI", "National provider identifier"),
            "system": NPI_SYSTEM, "value": value}


def _common(record: ListingRecord, profile: str, canon: Canonicals) -> dict:
    listing = record.listing
    return {"meta": meta(profile, listing.updated_at),
            "extension": last_verified(canon, listing.last_verified)}


def practitioner(record: ListingRecord, canon: Canonicals) -> dict:
    listing, person = record.listing, record.practitioner
    name = {"use": "official", "text": listing.name}
    if person is not None:
        name.update(family=person.last_name, given=[person.first_name])
        if person.credentials:
            name["suffix"] = [person.credentials]
    else:
        name["family"] = listing.name
    languages = vocabulary.languages()
    resource = {
        "resourceType": "Practitioner", "id": ids.practitioner(listing.id), **_common(record, PROFILE["Practitioner"],
                                                                                     canon),
        "identifier": [npi(listing.npi)], "active": True, "name": [name],
        # BCP-47 language tags, without a proficiency (we do not know it).
        "communication": [concept(BCP47_SYSTEM, code, languages.get(code)) for code in listing.languages],
    }
    if person is not None and person.gender in GENDER:
        resource["gender"] = GENDER[person.gender]
    return tidy(resource)


def _description(record: ListingRecord) -> str | None:
    """What an organization offers, in words (Plan-Net's org-description)."""
    concepts = vocabulary.vocabulary().by_id
    labels = [concepts[s].label for s in record.listing.services if s in concepts]
    return f"Offers: {', '.join(labels)}." if labels else None


def organization(record: ListingRecord, canon: Canonicals) -> dict:
    listing = record.listing
    org_type = record.organization.org_type if record.organization else "practice"
    type_code = ORGANIZATION_CODES[org_type][0]
    extensions = last_verified(canon, listing.last_verified)
    description = _description(record)
    if description:
        extensions = [{"url": EXTENSION["org-description"], "valueString": description}, *extensions]
    first = record.locations[0] if record.locations else None
    resource = {
        "resourceType": "Organization", "id": ids.organization(listing.id),
        "meta": meta(PROFILE["Organization"], listing.updated_at), "extension": extensions,
        "identifier": [npi(listing.npi)], "active": True,
        "type": [concept(SYSTEM["OrgTypeCS"], type_code, ORG_TYPE[type_code])],
        "name": listing.name,
        "telecom": telecom(first) if first is not None else [],
        # Every location's address (Plan-Net requires one; an organization without a location has
        # none to give, which the profile check reports).
        "address": [address(loc, with_position=True) for loc in record.locations],
    }
    if listing.website:
        resource["endpoint"] = [reference("Endpoint", ids.endpoint(listing.id))]
    return tidy(resource)


def location(record: ListingRecord, loc: Location, canon: Canonicals) -> dict:
    listing = record.listing
    extensions = [new_patients(listing.accepting_new_patients)]
    if loc.wheelchair_accessible:
        extensions.append({"url": EXTENSION["accessibility"],
                           "valueCodeableConcept": concept(SYSTEM["AccessibilityCS"], "handiaccess",
                                                           "handicap accessible")})
    resource = {
        "resourceType": "Location", "id": ids.location(loc.id), "meta": meta(PROFILE["Location"], listing.updated_at),
        "extension": extensions + last_verified(canon, listing.last_verified),
        "status": "active",
        "name": loc.name or (listing.name if len(record.locations) == 1 else f"{listing.name} — {loc.city}"),
        "telecom": telecom(loc),
        "address": address(loc),
        "position": {"longitude": loc.lon, "latitude": loc.lat},
        "hoursOfOperation": opening_hours(loc.hours or {}),
    }
    if listing.kind == "organization":
        resource["managingOrganization"] = reference("Organization", ids.organization(listing.id), listing.name)
    return tidy(resource)


def endpoint(record: ListingRecord, canon: Canonicals) -> dict | None:
    """A listing's website as an Endpoint (REST, not FHIR; no payload), or None without one."""
    listing = record.listing
    if not listing.website:
        return None
    resource = {
        "resourceType": "Endpoint", "id": ids.endpoint(listing.id), **_common(record, PROFILE["Endpoint"], canon),
        "status": "active",
        "connectionType": {"system": SYSTEM["EndpointConnectionTypeCS"], "code": "rest-non-fhir",
                           "display": "REST (not FHIR)"},
        "name": f"Website of {listing.name}",
        "payloadType": [concept(SYSTEM["EndpointPayloadTypeCS"], "NA", "Not Applicable")],
        "payloadMimeType": ["text/html"],
        "address": listing.website,
    }
    if listing.kind == "organization":
        resource["managingOrganization"] = reference("Organization", ids.organization(listing.id), listing.name)
    return tidy(resource)
