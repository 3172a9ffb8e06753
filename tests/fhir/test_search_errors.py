"""What a search refuses: 400 with an OperationOutcome naming the parameter (not-supported for what
the server does not know, invalid for a malformed value), and never a stack trace."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome

from directory.fhir.dispatch import TYPES

NOT_SUPPORTED = [
    ("Practitioner?birthdate=1970", "birthdate"),
    ("Practitioner?name:missing=true", "name:missing"),
    ("Practitioner?name:text=ada", "name:text"),
    ("PractitionerRole?specialty:exact=207RR0500X", "specialty:exact"),
    ("PractitionerRole?location:Organization=org-1", "location:Organization"),
    ("PractitionerRole?near=42|-71|10", "near"),
    ("PractitionerRole?location.foo=1", "location.foo"),
    ("PractitionerRole?specialty.name=x", "specialty.name"),
    ("PractitionerRole?location.address-postalcode:foo=1", "location.address-postalcode:foo"),
    ("PractitionerRole?_include=PractitionerRole:foo", "_include"),
    ("PractitionerRole?_include=Location:organization", "_include"),
    ("PractitionerRole?_include=PractitionerRole:location:Organization", "_include"),
    ("PractitionerRole?_include:recurse=PractitionerRole:location", "_include:recurse"),
    ("Location?_revinclude=PractitionerRole:practitioner", "_revinclude"),
    ("Organization?_has:Foo:bar:name=x", "_has:Foo:bar:name"),
    ("Organization?_has:PractitionerRole:location:specialty=x", "_has:PractitionerRole:location:specialty"),
    ("Organization?_has:OrganizationAffiliation:network:nope=x", "_has:OrganizationAffiliation:network:nope"),
    ("Location?_sort=name", "_sort"),
]
INVALID = [
    ("Practitioner?_count=ten", "_count"),
    ("Practitioner?_cursor=not-ours", "_cursor"),
    ("Practitioner?name=", "name"),
    ("Practitioner?_content=", "_content"),
    ("Practitioner?_content=" + "a" * 201, "_content"),
    ("Practitioner?_content=\x01\x02", "_content"),
    ("Practitioner?_lastUpdated=xx2025", "_lastUpdated"),
    ("Practitioner?_lastUpdated=2025-02-30", "_lastUpdated"),
    ("PractitionerRole?specialty=a|b|c", "specialty"),
    ("PractitionerRole?location=Location/a/b", "location"),
    ("PractitionerRole?location=Organization/org-1", "location"),
    ("Location?near=abc", "near"),
    ("Location?near=42.3|-71.1|600|mi", "near"),
    ("Location?near=42.3|-71.1|10|furlong", "near"),
    ("Location?near=95|-71.1|10", "near"),
    ("Location?near=42.3|-71.1|10&near=42.3|-71.1|20", "near"),
    ("PractitionerRole?location.near=42|-71|900|mi", "location.near"),
    ("Organization?_has:PractitionerRole=x", "_has:PractitionerRole"),
    ("Organization?_has:OrganizationAffiliation:participating-organization:_lastUpdated=soon",
     "_has:OrganizationAffiliation:participating-organization:_lastUpdated"),
]


def _query(text: str) -> str:
    path, _, query = text.partition("?")
    return f"/fhir/{path}?" + "&".join(f"{k}={quote(v, safe='|/:,')}" for part in query.split("&")
                                      for k, _, v in [part.partition("=")])


@pytest.mark.parametrize(("query", "code", "expression"), [(q, "not-supported", e) for q, e in NOT_SUPPORTED]
                         + [(q, "invalid", e) for q, e in INVALID])
def test_bad_requests(demo, query, code, expression):
    response = demo.client.get(_query(query))
    body = response.get_json()
    OperationOutcome.model_validate(body)
    assert (response.status_code, body["issue"][0]["code"], body["issue"][0].get("expression")) == (
        400, code, [expression]), body


def test_lenient_handling_ignores_what_it_does_not_know(client, directory_data):
    response = client.get("/fhir/Practitioner?name=ada&birthdate=1970&name:missing=true",
                          headers={"Prefer": "handling=lenient"})
    bundle = response.get_json()
    assert response.status_code == 200 and bundle["total"] == 1
    assert parse_qs(urlsplit(bundle["link"][0]["url"]).query) == {"name": ["ada"], "_count": ["20"]}
    malformed = client.get("/fhir/Practitioner?_lastUpdated=soon", headers={"Prefer": "handling=lenient"})
    assert malformed.status_code == 400


GARBAGE = ["%00", "a|b|c|d", "gt", "Location/", "\u00e9\u00e9\u00e9,,,", "-1e999", "http://x/y/z"]


@pytest.mark.parametrize("resource_type", sorted(TYPES))
def test_no_value_makes_a_server_error(client, directory_data, resource_type):
    for param in TYPES[resource_type].search:
        name = "location" if param.name == "location.near" else param.name
        for value in GARBAGE:
            response = client.get(f"/fhir/{resource_type}?{quote(name)}={quote(value)}")
            assert response.status_code in (200, 400), (resource_type, name, value, response.get_json())
            if response.status_code == 400:
                OperationOutcome.model_validate(response.get_json())
