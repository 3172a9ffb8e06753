"""One resource by type and id: the resource, or why there is none (unknown, or its listing was
deactivated: 410 Gone)."""

from __future__ import annotations

from enum import Enum

from sqlmodel import Session

from directory.fhir import ids
from directory.fhir.codes import Canonicals
from directory.fhir.definitions import search_parameters
from directory.fhir.mapping import listing_resources, network_resources
from directory.fhir.records import load_listing, load_networks
from directory.models import MAX_ID, Location, Network, Role


class Missing(Enum):
    NOT_FOUND = "not-found"
    GONE = "deleted"


def _listing_id(session: Session, kind: str, number: int) -> int | None:
    """The listing whose resources include this one."""
    if kind == "location":
        loc = session.get(Location, number)
        return None if loc is None else loc.listing_id
    if kind == "role":
        role = session.get(Role, number)
        return None if role is None else role.practitioner_id
    return number


def read(session: Session, resource_type: str, resource_id: str, canon: Canonicals) -> dict | Missing:
    """The resource `resource_type/resource_id`, mapped from the database now."""
    if resource_type == "SearchParameter":
        return search_parameters(canon).get(resource_id, Missing.NOT_FOUND)
    parsed = ids.parse(resource_type, resource_id)
    if parsed is None:
        return Missing.NOT_FOUND
    kind, parts = parsed
    if kind == "payer":
        rows = [n for n in load_networks(session) if ids.slug(n.payer) == parts[0]]
        return _pick(network_resources(rows, canon), resource_type, resource_id)
    numbers = parts[:2] if kind == "role" else parts[:1]  # an affiliation's second part is a slug
    if any(p is not None and int(p) > MAX_ID for p in numbers):
        return Missing.NOT_FOUND
    if kind in ("network", "plan"):
        row = session.get(Network, int(parts[0]))
        return Missing.NOT_FOUND if row is None else _pick(network_resources([row], canon), resource_type,
                                                            resource_id)
    listing_id = _listing_id(session, kind, int(parts[0]))
    record = None if listing_id is None else load_listing(session, listing_id)
    if record is None:
        return Missing.NOT_FOUND
    found = _pick(listing_resources(record, canon), resource_type, resource_id)
    if found is not Missing.NOT_FOUND and not record.listing.active:
        return Missing.GONE
    return found


def _pick(resources: list[dict], resource_type: str, resource_id: str) -> dict | Missing:
    for resource in resources:
        if resource["resourceType"] == resource_type and resource["id"] == resource_id:
            return resource
    return Missing.NOT_FOUND
