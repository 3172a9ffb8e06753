"""Type-level search: `GET [type]?...` (and `POST [type]/_search`), answered as a searchset Bundle
with `total` and `self` / `first` / `next` links. Pages are in key order (see `universe`), or
nearest first with `near`, or most relevant first with `_content`; `next` carries an opaque
keyset cursor (the sort key of the page's last match), so no page is found by an offset.

The criteria (`criteria`) are tests over the mapped resources, so a search means exactly what the
resources say; `_include` / `_revinclude` are in `include`.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from functools import cache
from itertools import islice
from urllib.parse import urlencode

import numpy as np
from sqlalchemy import and_, bindparam, func, text
from sqlmodel import Session, select
from werkzeug.datastructures import MultiDict

from directory.fhir import counts, light
from directory.fhir.codes import Canonicals
from directory.fhir.criteria import ONE_PER_LISTING, Context, Criteria, Found, parse
from directory.fhir.dispatch import ResourceEntry
from directory.fhir.errors import SearchError
from directory.fhir.include import included, parse_inclusions
from directory.fhir.places import content_page, near_listings
from directory.fhir.universe import Key, among, dialect, id_list, listing_key, mapped, resources
from directory.geo import bounding_box, great_circle_mi
from directory.models import INACTIVE, Listing, Location

__all__ = ["SearchError", "decode_cursor", "encode_cursor", "search"]

DEFAULT_COUNT = 20
MAX_COUNT = 100
CURSOR = "_cursor"
DISTANCE = "http://hl7.org/fhir/StructureDefinition/location-distance"
SortKey = tuple


def _count(args: MultiDict) -> int:
    values = args.getlist("_count")
    if not values:
        return DEFAULT_COUNT
    if len(values) > 1 or not values[0].isascii() or not values[0].isdigit():
        raise SearchError("invalid", "_count is a whole number from 0 (total only) to 100", "_count")
    return min(int(values[0]), MAX_COUNT)


def encode_cursor(after: SortKey) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": list(after)}).encode()).decode().rstrip("=")


def decode_cursor(token: str) -> SortKey:
    try:
        after = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["after"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError) as error:
        raise SearchError("invalid", "_cursor is not one this server gave", CURSOR) from error
    if (not isinstance(after, list) or len(after) not in (3, 4)
            or not all(isinstance(n, int | float) and not isinstance(n, bool) and n >= 0 for n in after)):
        raise SearchError("invalid", "_cursor is not one this server gave", CURSOR)
    return tuple(after)


def _sort_key(criteria: Criteria, key: tuple, resource: dict) -> SortKey:
    if criteria.distance is not None:
        return (round(criteria.distance(resource) or 0.0, 9), *key)
    if criteria.ranking is not None:
        return (criteria.ranking[listing_key(key)], *key)
    return key


def _candidates(ctx: Context, resource_type: str, criteria: Criteria, fields: set[str] | None = None,
                only: set[int] | None = None):
    """((key, resource) of every resource the criteria may match (of the listings `only`, when
    given): light ones (see `light`) when the tests read only what those hold, else the full
    mapping; the tests still to run on them)."""
    fields = criteria.fields if fields is None else criteria.fields | fields
    listings = criteria.listings if only is None else only
    tests = criteria.tests
    if light.supports(resource_type, fields):
        within = light.Within()
        if resource_type == "PractitionerRole":  # what some of the tests require, known beforehand
            within = _within(criteria)
            tests = [test for test in tests if test not in criteria.within_tests]
        found = light.resources(ctx.session, resource_type, ctx.canon, listings, fields,
                                networks=not criteria.listings_only, within=within)
    else:
        found = resources(ctx.session, resource_type, ctx.canon, listings=listings,
                          networks=not criteria.listings_only)
    if criteria.prepare:
        found = list(found)
        for prepare in criteria.prepare:
            prepare(found)
    return found, tests


def _within(criteria: Criteria) -> light.Within:
    """What the criteria require of a PractitionerRole before it is built (see `light.Within`)."""
    return light.Within(criteria.near_locations,
                        None if criteria.networks is None else frozenset(criteria.networks),
                        None if criteria.specialties is None else frozenset(criteria.specialties),
                        criteria.accepting)


def _placed_roles(ctx: Context, criteria: Criteria) -> list | None:
    """A `location.near` search of PractitionerRoles every test of which the roles built `within`
    it pass (see `Criteria.within_tests`): (sort key, None) of each match, nearest first, from the
    roles' rows and their locations' distances, no resource built (a New York search at 1M has
    ~1,500 matches). None when the search is not such."""
    miles = criteria.location_miles
    if (miles is None or criteria.ranking is not None or criteria.prepare
            or not light.supports("PractitionerRole", criteria.fields)
            or any(test not in criteria.within_tests for test in criteria.tests)):
        return None
    found = light.role_places(ctx.session, ctx.canon, criteria.listings, criteria.fields, _within(criteria))
    return sorted(((round(miles[loc_id], 9), *key), None) for key, loc_id in found)


def matches(ctx: Context, resource_type: str, criteria: Criteria, fields: set[str] | None = None):
    """(sort key, resource) of every match, in order (resources perhaps light: `full` maps them)."""
    found = []
    candidates, tests = _candidates(ctx, resource_type, criteria, fields)
    for key, resource in candidates:
        if all(test(key, resource) for test in tests):
            found.append((_sort_key(criteria, key, resource), resource))
    if criteria.distance is not None or criteria.ranking is not None:
        found.sort(key=lambda item: item[0])
    return found


def _key(sort_key: SortKey) -> Key:
    return tuple(sort_key[-3:])


def full(ctx: Context, resource_type: str, found: list) -> list:
    """The same (sort key, resource) pairs with each resource mapped in full (one batch)."""
    if not found:
        return []
    by_key = mapped(ctx.session, resource_type, ctx.canon, [_key(sort_key) for sort_key, _ in found], ctx.records)
    return [(sort_key, by_key[_key(sort_key)]) for sort_key, _ in found if _key(sort_key) in by_key]


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
# The inactive listings (few: the partial index of migration 0015), then their locations in the box
# (a join lets the planner read every location in the box and look its listing up).
_INACTIVE = select(Listing.id).where(text(INACTIVE))


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
        gone = self.conn.execute(_INACTIVE).scalars().all()
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


def _near_page(ctx: Context, criteria: Criteria, after: SortKey | None, count: int):
    """`Location?near` alone: the points in the radius with their counts of locations, their
    distances computed at once; the total is the sum of their counts, and the page is read point
    by point, nearest first, until it is full (only the page is mapped). Nearest first, then by
    listing and position: within a listing, position follows the location id."""
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
    return total, full(ctx, "Location", keys)




@cache
def _alive(dialect_name: str):
    """Which of these listings are active and of this kind (built once per dialect)."""
    return select(Listing.id).where(Listing.active.is_(True), Listing.kind == bindparam("kind"),
                                    among(Listing.id, "listings", dialect_name))


def _ranked_page(ctx: Context, resource_type: str, criteria: Criteria, after: SortKey | None, count: int):
    """`_content` alone on a type with one resource per listing: the Searcher counts the listings
    of its kind it finds (active ones: the index holds no other) and ranks only as far as the
    page; the cursor's key starts with the rank of the page's last match. Only the page is mapped."""
    words = criteria.rankings[0][0]
    skip = 0 if after is None else int(after[0]) + 1
    total, lids = content_page(words, ONE_PER_LISTING[resource_type], skip, count + 1)
    return total, full(ctx, resource_type, [((skip + i, 0, lid, 0), None) for i, lid in enumerate(lids)])


def _certain_page(ctx: Context, resource_type: str, criteria: Criteria, certain: set[int], after: SortKey | None,
                  count: int):
    """Key order, on a type with one resource per listing, where every test certainly passes the
    listings `certain` (see `Criteria.certainly`): of those, the active ones of the type match and
    are counted from their ids; only the other candidates are tested; only the page is mapped.
    A name search at 1M has ~8,700 candidates, nearly all certain."""
    kind = dialect(ctx.session)
    alive = ctx.session.execute(_alive(kind), {"kind": ONE_PER_LISTING[resource_type],
                                                "listings": id_list(kind, sorted(certain))}).scalars()
    keys = [(0, lid, 0) for lid in alive]
    candidates, tests = _candidates(ctx, resource_type, criteria, only=criteria.listings - certain)
    keys += [key for key, resource in candidates if all(test(key, resource) for test in tests)]
    keys.sort()
    chosen = [(key, None) for key in keys if after is None or key > after][:count + 1]
    return len(keys), full(ctx, resource_type, chosen)


def page(ctx: Context, resource_type: str, criteria: Criteria, after: SortKey | None, count: int):
    """(total, up to count + 1 (sort key, resource) after the cursor). In key order the page is
    taken while counting, keeping no other resource; with no criteria the database counts and the
    page is mapped from the cursor on."""
    if criteria.near_alone:
        return _near_page(ctx, criteria, after, count)
    if criteria.content_alone:
        return _ranked_page(ctx, resource_type, criteria, after, count)
    if criteria.distance is not None or criteria.ranking is not None:
        found = _placed_roles(ctx, criteria) if resource_type == "PractitionerRole" else None
        if found is None:
            found = matches(ctx, resource_type, criteria)
        return len(found), full(ctx, resource_type,
                                [item for item in found if after is None or item[0] > after][:count + 1])
    if not criteria.tests and criteria.listings is None:
        chosen = [] if count == 0 else list(islice(
            resources(ctx.session, resource_type, ctx.canon, after=after, batch=count + 1), count + 1))
        return counts.total(ctx.session, resource_type), chosen
    certain = criteria.certainly() if resource_type in ONE_PER_LISTING else None
    if certain:
        return _certain_page(ctx, resource_type, criteria, certain, after, count)
    total, chosen = 0, []
    candidates, tests = _candidates(ctx, resource_type, criteria)
    for key, resource in candidates:
        if all(test(key, resource) for test in tests):
            total += 1
            if len(chosen) <= count and (after is None or key > after):
                chosen.append((key, resource))
    return total, full(ctx, resource_type, chosen)


def find(ctx: Context, resource_type: str, pairs: list[tuple[str, str]], whole: bool = False) -> Found:
    """A sub-search (a chain's, a `_has`'s or a `_revinclude`'s): every match by "Type/id", light
    resources holding at least their references unless `whole`."""
    criteria = parse(ctx, resource_type, pairs)
    distance = criteria.distance
    found = [(sort_key, r, None if distance is None else distance(r))
             for sort_key, r in matches(ctx, resource_type, criteria, set(light.REFERENCES.get(resource_type, ())))]
    if whole:
        mapped = dict(full(ctx, resource_type, [(sort_key, r) for sort_key, r, _ in found]))
        found = [(sort_key, mapped[sort_key], miles) for sort_key, _, miles in found if sort_key in mapped]
    return Found({f"{resource_type}/{r['id']}": (r, miles) for _, r, miles in found}, criteria.listings)


def search(session: Session, entry: ResourceEntry, args: MultiDict, base_url: str, canon: Canonicals, *,
           lenient: bool = False) -> dict:
    """A searchset Bundle of `entry.type` for these query parameters; `base_url` is the type's URL.
    `self` names only the parameters applied; `next` adds the cursor after this page's last key."""
    if not entry.search:
        raise SearchError("not-supported", f"{entry.type} is read only here: search is not supported")
    root = base_url.rsplit("/", 1)[0]
    ctx = Context(session, canon, root, datetime.now(UTC), lenient, find)
    pairs = list(args.items(multi=True))
    count = _count(args)
    after = decode_cursor(args[CURSOR]) if CURSOR in args else None
    inclusions = parse_inclusions(entry.type, pairs)
    criteria = parse(ctx, entry.type, pairs, page=True)
    total, chosen = page(ctx, entry.type, criteria, after, count)
    chosen = chosen[:count + 1] if count else []
    more = len(chosen) > count
    chosen = chosen[:count]
    applied = criteria.applied + [(name, value) for name, value in pairs if name.startswith(("_include",
                                                                                          "_revinclude"))]
    applied.append(("_count", str(count)))
    links = [{"relation": "self", "url": _url(base_url, applied + ([(CURSOR, args[CURSOR])] if after else []))},
             {"relation": "first", "url": _url(base_url, applied)}]
    if more:
        links.append({"relation": "next", "url": _url(base_url, applied + [(CURSOR, encode_cursor(chosen[-1][0]))])})
    entries = [_entry(root, resource, "match", criteria, sort_key) for sort_key, resource in chosen]
    extra, truncated = included(ctx, entry.type, [r for _, r in chosen], inclusions) if inclusions else ([], False)
    entries += [_entry(root, resource, "include") for resource in extra]
    if truncated:
        entries.append({"resource": {"resourceType": "OperationOutcome", "issue": [{
            "severity": "warning", "code": "incomplete",
            "diagnostics": "More resources are included than a page carries: the first 500 are."}]},
            "search": {"mode": "outcome"}})
    return {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links,
            **({"entry": entries} if entries else {})}


def _entry(root: str, resource: dict, mode: str, criteria: Criteria | None = None, sort_key=None) -> dict:
    found = {"fullUrl": f"{root}/{resource['resourceType']}/{resource['id']}", "resource": resource,
             "search": {"mode": mode}}
    if criteria is not None and criteria.near is not None and criteria.distance is not None:
        found["search"]["extension"] = [{"url": DISTANCE, "valueDistance": criteria.near.distance(sort_key[0])}]
    return found


def _url(base_url: str, params: list[tuple[str, str]]) -> str:
    return f"{base_url}?{urlencode(params)}" if params else base_url
