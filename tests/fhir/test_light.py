"""Light resources (directory/fhir/light.py) say what the full mapping says: over the whole demo,
every light resource has the key and id of a full one, each element it holds equals the full
resource's (an absent one is absent there too), and no full resource is missing from the light
ones. A search tests light resources, so this is what keeps its answers the mapping's."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from directory.db import get_engine
from directory.fhir import light
from directory.fhir.codes import EXTENSION, Canonicals
from directory.fhir.universe import resources

# Extensions a light resource carries (the only ones a search parameter reads).
LIGHT_EXTENSIONS = {EXTENSION["newpatients"], EXTENSION["network-reference"]}


def _expected(resource: dict, element: str):
    value = resource.get(element)
    if element == "meta":
        return {"lastUpdated": value["lastUpdated"]}
    if element == "extension":
        return [e for e in value or [] if e["url"] in LIGHT_EXTENSIONS] or None
    if element == "endpoint":  # a data-absent-reason endpoint names nothing
        return [e for e in value or [] if "reference" in e] or None
    return value


@pytest.mark.parametrize("resource_type", sorted(light.FIELDS))
def test_light_resources_hold_what_the_full_ones_do(demo, resource_type):
    canon = Canonicals()
    with Session(get_engine(demo.app)) as session:
        whole = dict(resources(session, resource_type, canon))
        fields = light.FIELDS[resource_type]
        found = dict(light.resources(session, resource_type, canon, None, fields))
        chosen = {key[1] for key in sorted(whole) if key[0] == 0}
        chosen = set(sorted(chosen)[::3])
        narrowed = dict(light.resources(session, resource_type, canon, chosen, fields))
    assert whole and set(found) == set(whole)
    assert {key for key in narrowed if key[0] == 0} == {key for key in whole if key[0] == 0 and key[1] in chosen}
    checked = 0
    for key, resource in found.items():
        full = whole[key]
        assert resource["id"] == full["id"]
        if key[0] == 1:  # the networks' resources are the full ones
            assert resource == full
            continue
        for element in fields - {"id"}:
            got = resource.get(element) or None
            assert got == _expected(full, element), (resource_type, full["id"], element)
            checked += 1
    assert checked > 100
