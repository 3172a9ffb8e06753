"""Resource ids: stable, `[A-Za-z0-9-.]{1,64}`, each naming the row it comes from.

prac-N, org-N, loc-N, hcs-N, hcs-virtual-N and ep-N carry a listing or location id; net-N and
plan-N a network id; role-N-M a role id and a network id (role-N: a role with no network);
payer-<slug> and aff-N-<slug> a payer's name as a slug.
"""

from __future__ import annotations

import hashlib
import re

ID_PATTERN = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_WORD = re.compile(r"[a-z0-9]+")
SLUG_LENGTH = 40  # room for "aff-" and a 19-digit listing id within 64 characters


def slug(payer: str) -> str:
    """A payer's name as lower-case words joined by '-'; a long name keeps its start and a short
    hash of the whole (so two long names never share a slug)."""
    text = "-".join(_WORD.findall(payer.lower())) or "payer"
    if len(text) > SLUG_LENGTH:
        digest = hashlib.sha256(payer.encode()).hexdigest()[:8]
        text = f"{text[:SLUG_LENGTH - 9].rstrip('-')}-{digest}"
    return text


def practitioner(listing_id: int) -> str:
    return f"prac-{listing_id}"


def organization(listing_id: int) -> str:
    return f"org-{listing_id}"


def payer(name: str) -> str:
    return f"payer-{slug(name)}"


def network(network_id: int) -> str:
    return f"net-{network_id}"


def plan(network_id: int) -> str:
    return f"plan-{network_id}"


def location(location_id: int) -> str:
    return f"loc-{location_id}"


def role(role_id: int, network_id: int | None) -> str:
    return f"role-{role_id}" if network_id is None else f"role-{role_id}-{network_id}"


def service(listing_id: int) -> str:
    return f"hcs-{listing_id}"


def virtual_service(listing_id: int) -> str:
    return f"hcs-virtual-{listing_id}"


def affiliation(listing_id: int, payer_name: str) -> str:
    return f"aff-{listing_id}-{slug(payer_name)}"


def endpoint(listing_id: int) -> str:
    return f"ep-{listing_id}"


_NUMBER = r"(0|[1-9][0-9]{0,18})"
# Resource type -> (pattern of its ids, what the captured groups name).
PARSERS = {
    "Practitioner": [(re.compile(rf"prac-{_NUMBER}"), "practitioner")],
    "Organization": [(re.compile(rf"org-{_NUMBER}"), "organization"), (re.compile(rf"net-{_NUMBER}"), "network"),
                     (re.compile(r"payer-([a-z0-9\-]{1,58})"), "payer")],
    "InsurancePlan": [(re.compile(rf"plan-{_NUMBER}"), "plan")],
    "Location": [(re.compile(rf"loc-{_NUMBER}"), "location")],
    "PractitionerRole": [(re.compile(rf"role-{_NUMBER}(?:-{_NUMBER})?"), "role")],
    "HealthcareService": [(re.compile(rf"hcs-virtual-{_NUMBER}"), "virtual_service"),
                          (re.compile(rf"hcs-{_NUMBER}"), "service")],
    "OrganizationAffiliation": [(re.compile(rf"aff-{_NUMBER}-([a-z0-9\-]{{1,{SLUG_LENGTH}}})"), "affiliation")],
    "Endpoint": [(re.compile(rf"ep-{_NUMBER}"), "endpoint")],
}


def parse(resource_type: str, resource_id: str) -> tuple[str, tuple[str | None, ...]] | None:
    """(kind, captured parts) of an id of this type, or None when no row could have made it."""
    for pattern, kind in PARSERS.get(resource_type, ()):
        match = pattern.fullmatch(resource_id)
        if match:
            return kind, match.groups()
    return None
