"""`location.near`, the chain: the listings the Searcher finds near a place, and the distance of
each location their resources can refer to, read from the database (no Location is mapped)."""

from __future__ import annotations

from functools import cache

import numpy as np
from sqlalchemy import or_
from sqlmodel import select

from directory.fhir import ids
from directory.fhir.context import PUSHED, Context, Criteria
from directory.fhir.places import near_listings
from directory.fhir.universe import INACTIVE_LISTINGS, among, dialect, id_list
from directory.fhir.values import walk
from directory.geo import great_circle_mi
from directory.models import Location, Network, Role


@cache
def _places(dialect_name: str, own: bool):
    """The points of the locations these listings' resources can refer to, and their listings,
    built once: their roles' and, when `own`, their own (a PractitionerRole refers only to its
    role's location)."""
    roles = Location.id.in_(select(Role.location_id).where(among(Role.practitioner_id, "chunk", dialect_name)))
    return (select(Location.id, Location.lat, Location.lon, Location.listing_id)
            .where(or_(among(Location.listing_id, "chunk", dialect_name), roles) if own else roles))


def near_chain(ctx: Context, resource_type: str, criteria: Criteria) -> None:
    """`location.near`: the listings the Searcher finds near the place (with the specialty and
    network filters it can apply), then the distance of each location those listings' resources
    can refer to (their roles' and their own), from the database: no Location is mapped. The
    references' `Type/id` keys are made only when a resource is tested (a search answered from
    the roles' rows, `search._placed_roles`, tests none: ~2,200 locations near New York)."""
    param, name = criteria.near_chain
    near = criteria.near
    networks = criteria.networks
    if networks:
        known = set(ctx.session.exec(select(Network.id).where(Network.id.in_(networks))))
        networks = tuple(n for n in networks if n in known)
        if not networks:  # no such network: nothing refers to it
            criteria.narrow(set())
    found = near_listings(near, specialties=criteria.specialties or (), networks=networks or (),
                          kind=PUSHED.get(resource_type))
    criteria.narrow(found)
    kind = dialect(ctx.session)
    rows = ctx.session.execute(_places(kind, resource_type != "PractitionerRole"),
                               {"chunk": id_list(kind, sorted(criteria.listings))}).all()
    miles_of: dict[int, float] = {}
    if rows:
        # A location of an inactive listing is no Location: no chain reaches it (left out by the
        # inactive listings' ids, not by looking up 2,465 listings near New York at 1M).
        inactive = set(ctx.session.execute(INACTIVE_LISTINGS).scalars())
        rows = [row for row in rows if row[3] not in inactive] if inactive else rows
    if rows:
        points = np.array([(lat, lon) for _, lat, lon, _ in rows], dtype=float)
        miles = great_circle_mi(near.lat, near.lon, points[:, 0], points[:, 1])
        inside = miles <= near.radius_mi
        miles_of = dict(zip(np.array([r[0] for r in rows])[inside].tolist(), miles[inside].tolist(), strict=True))
    if param.name == "location":
        criteria.near_locations = frozenset(miles_of)
        criteria.location_miles = miles_of
    keyed: dict[str, float] = {}

    def distances() -> dict[str, float]:
        if len(keyed) < len(miles_of):
            keyed.update((f"Location/{ids.location(loc_id)}", distance) for loc_id, distance in miles_of.items())
        return keyed

    path = param.path

    def chain_test(key, resource) -> bool:
        within = distances()
        return any(isinstance(ref, dict) and ref.get("reference") in within for ref in walk(resource, path))

    criteria.tests.append(chain_test)
    if param.name == "location":
        criteria.within_tests.add(chain_test)

    def miles_to(resource: dict) -> float | None:
        within = distances()
        return min((within[ref["reference"]] for ref in walk(resource, path)
                    if isinstance(ref, dict) and ref.get("reference") in within), default=None)
    criteria.distance = miles_to
