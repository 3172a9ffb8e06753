"""`Location?near` alone, answered from the locations' points: counted by point in the database,
the page read point by point, nearest first (see `near_page`); `search.page` maps the page."""

from __future__ import annotations

from functools import cache

import numpy as np
from sqlalchemy import and_, bindparam, func
from sqlmodel import select

from directory.fhir.context import Context, Criteria
from directory.fhir.places import near_listings
from directory.fhir.universe import INACTIVE_LISTINGS, among, dialect, id_list
from directory.geo import bounding_box, great_circle_mi
from directory.models import Listing, Location

__all__ = ["near_page"]


@cache
def _points(dialect_name: str):
    """The points of these active listings' locations (built once per dialect)."""
    return (select(Location.id, Location.listing_id, Location.lat, Location.lon)
            .join(Listing, Listing.id == Location.listing_id)
            .where(Listing.active.is_(True), among(Location.listing_id, "listings", dialect_name)))


_BOX = and_(Location.lat.between(bindparam("south"), bindparam("north")),
            Location.lon.between(bindparam("west"), bindparam("east")))
# The points in a lat/lon box and how many locations each holds, counted in the database from the
# (lat, lon, listing_id) index alone (migration 0014): listings at ZIP centroids share points, so a
# 25-mile box in New York at 1M holds 53,000 locations at 614 points (38 ms to read the rows and
# ~25 ms to make arrays of them; 9 ms to count them by point).
_POINTS_IN_BOX = select(Location.lat, Location.lon, func.count()).where(_BOX).group_by(Location.lat, Location.lon)
# The inactive listings (`INACTIVE_LISTINGS`), then their locations in the box (two statements:
# joined, the planner reads every location in the box and looks its listing up).


@cache
def _inactive_in_box(dialect_name: str):
    return (select(Location.id, Location.listing_id, Location.lat, Location.lon)
            .where(among(Location.listing_id, "listings", dialect_name), _BOX))
# The locations at one point, from the same index.
_AT_POINT = select(Location.id, Location.listing_id).where(Location.lat == bindparam("lat"),
                                                           Location.lon == bindparam("lon"))
BOX_MARGIN_DEG = 1e-6  # a point on the circle stays in the box whatever the rounding (about 0.1 m)


@cache
def _location_ids(dialect_name: str):
    """(listing, location id) of these listings' locations: a location's key is its position
    among its listing's locations in id order."""
    return select(Location.listing_id, Location.id).where(among(Location.listing_id, "listings", dialect_name))


class _Points:
    """The points that may lie in `near`'s radius, how many active listings' locations each holds
    (`counts`), and the locations at a point (`at`). From the box's index in the database; for a
    box across the antimeridian or a pole, from the points of the listings the Searcher found
    (active, with a place in the radius, so holding every such location)."""

    def __init__(self, ctx: Context, criteria: Criteria):
        near = criteria.near
        south, north, west, east = bounding_box(near.lat, near.lon, near.radius_mi)
        self.conn = ctx.session.connection()
        self.rows: dict[tuple[float, float], list[tuple[int, int]]] | None = None
        if west - BOX_MARGIN_DEG < -180 or east + BOX_MARGIN_DEG > 180:
            kind = dialect(ctx.session)
            self.rows = {}
            listings = near_listings(near) if criteria.listings is None else criteria.listings
            for loc_id, lid, lat, lon in self.conn.execute(
                    _points(kind), {"listings": id_list(kind, sorted(listings))}):
                self.rows.setdefault((lat, lon), []).append((loc_id, lid))
            self.points = list(self.rows)
            self.counts = [len(found) for found in self.rows.values()]
            self.inactive: set[int] = set()
            return
        self.box = {"south": south - BOX_MARGIN_DEG, "north": north + BOX_MARGIN_DEG,
                    "west": west - BOX_MARGIN_DEG, "east": east + BOX_MARGIN_DEG}
        grouped = self.conn.execute(_POINTS_IN_BOX, self.box).all()
        self.points = [(lat, lon) for lat, lon, _ in grouped]
        self.counts = [n for _, _, n in grouped]
        inactive: dict[tuple[float, float], int] = {}
        self.inactive = set()
        gone = self.conn.execute(INACTIVE_LISTINGS).scalars().all()
        kind = dialect(ctx.session)
        for loc_id, _, lat, lon in self.conn.execute(_inactive_in_box(kind), {
                **self.box, "listings": id_list(kind, gone)}) if gone else ():
            self.inactive.add(loc_id)
            inactive[lat, lon] = inactive.get((lat, lon), 0) + 1
        if inactive:
            self.counts = [n - inactive.get(point, 0) for point, n in zip(self.points, self.counts, strict=True)]

    def at(self, point: tuple[float, float]) -> list[tuple[int, int]]:
        """(location id, listing) of the active listings' locations at this point."""
        if self.rows is not None:
            return self.rows[point]
        return [(loc_id, lid) for loc_id, lid in self.conn.execute(_AT_POINT, {"lat": point[0], "lon": point[1]})
                if loc_id not in self.inactive]


def _positions(ctx: Context, listings: set[int]) -> dict[int, list[int]]:
    """Listing -> its location ids in id order (a location's position is its index there)."""
    if not listings:
        return {}
    kind = dialect(ctx.session)
    found: dict[int, list[int]] = {}
    for lid, loc_id in sorted(ctx.session.connection().execute(
            _location_ids(kind), {"listings": id_list(kind, sorted(listings))}).all()):
        found.setdefault(lid, []).append(loc_id)
    return found


def near_page(ctx: Context, criteria: Criteria, after: tuple | None, count: int) -> tuple[int, list]:
    """`Location?near` alone: (total, (sort key, None) of up to count + 1 locations after the
    cursor, for the caller to map). The points in the radius with their counts of locations, their
    distances computed at once; the total is the sum of their counts, and the page is read point
    by point until it is full. Nearest first, then by listing and position: within a listing,
    position follows the location id."""
    near = criteria.near
    points = _Points(ctx, criteria)
    if not points.points:
        return 0, []
    lats, lons = (np.array(column, dtype=float) for column in zip(*points.points, strict=True))
    miles = great_circle_mi(near.lat, near.lon, lats, lons)
    inside = miles <= near.radius_mi
    counts = np.array(points.counts)
    total = int(counts[inside].sum())
    rounded = np.round(miles, 9)
    a_miles, a_lid, a_id = -1.0, -1, -1  # sort keys (miles, 0, listing, position) above the cursor's
    if after is not None:
        a_miles, _, a_lid, a_pos = (tuple(after) + (0, 0, 0, 0))[:4]
        own = _positions(ctx, {int(a_lid)}).get(int(a_lid), [])
        # Its locations after position a_pos: those with a larger id than the one there (none if none is).
        a_id = own[int(a_pos)] if int(a_pos) < len(own) else float("inf")
        inside &= rounded >= a_miles
    chosen = np.flatnonzero(inside & (counts > 0))
    chosen = chosen[np.argsort(rounded[chosen], kind="stable")]
    found: list[tuple[float, int, int]] = []  # (miles, listing, location id)
    at = 0
    while at < len(chosen) and len(found) <= count:
        distance = rounded[chosen[at]]
        same = []  # every location at this distance (several points may share it)
        while at < len(chosen) and rounded[chosen[at]] == distance:
            same += points.at(points.points[chosen[at]])
            at += 1
        d = float(distance)
        found += sorted((d, lid, loc_id) for loc_id, lid in same
                        if d > a_miles or lid > a_lid or (lid == a_lid and loc_id > a_id))
    found = found[:count + 1]
    positions = _positions(ctx, {lid for _, lid, _ in found})
    keys = [((d, 0, lid, positions[lid].index(loc_id)), None) for d, lid, loc_id in found
            if loc_id in positions.get(lid, ())]
    return total, keys
