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


def test_roles_within_locations_and_networks_are_the_others_under_their_own_keys(demo):
    """`light.Within` leaves out the roles at other locations, of other specialties or acceptance,
    and the copies for other networks; what it keeps is exactly the unrestricted light roles so
    placed, under the same keys (their positions among all the practitioner's roles times
    networks)."""
    canon = Canonicals()
    fields = light.FIELDS["PractitionerRole"]
    with Session(get_engine(demo.app)) as session:
        every = dict(light.resources(session, "PractitionerRole", canon, None, fields))

        def network_of(resource):
            refs = [e["valueReference"]["reference"] for e in resource.get("extension", [])
                    if e["url"] == EXTENSION["network-reference"]]
            return int(refs[0].rsplit("-", 1)[1]) if refs else None

        def location_of(resource):
            return int(resource["location"][0]["reference"].rsplit("-", 1)[1])

        def codes_of(resource):
            return {c["code"] for concept in resource.get("specialty", []) for c in concept["coding"]}

        def accepting_of(resource):
            found = [part["valueCodeableConcept"]["coding"][0]["code"] for e in resource["extension"]
                     if e["url"] == EXTENSION["newpatients"] for part in e["extension"]
                     if part["url"] == "acceptingPatients"]
            return found == ["newpt"]

        networks = sorted({network_of(r) for r in every.values()} - {None})
        locations = sorted({location_of(r) for r in every.values()})
        codes = sorted({code for r in every.values() for code in codes_of(r)})
        for within in (light.Within(frozenset(locations[::2]), frozenset(networks[1::2])),
                       light.Within(specialties=frozenset(codes[::2]), accepting=frozenset({True})),
                       light.Within(frozenset(locations[1::2]), None, frozenset(codes[1::3]), frozenset({False})),
                       light.Within(accepting=frozenset({True, False}))):
            kept = dict(light.resources(session, "PractitionerRole", canon, None, fields, within=within))
            expected = {key: r for key, r in every.items()
                        if (within.locations is None or location_of(r) in within.locations)
                        and (within.networks is None or network_of(r) in within.networks)
                        and (within.specialties is None or codes_of(r) & within.specialties)
                        and (within.accepting is None or accepting_of(r) in within.accepting)}
            assert expected and kept == expected, within
            # The same roles placed by one statement (search._placed_roles), building none.
            placed = light.role_places(session, None, within)
            assert placed == [(key, location_of(kept[key])) for key in sorted(kept)], within
            some = {key[1] for key in list(kept)[::3]}
            assert light.role_places(session, some, within) == [
                (key, location_of(kept[key])) for key in sorted(kept) if key[1] in some], within
            assert any(key[2] > 0 for key in kept)  # not only each practitioner's first role and network
