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
from itertools import islice
from urllib.parse import urlencode

from sqlalchemy import bindparam, case, func
from sqlmodel import Session, select
from werkzeug.datastructures import MultiDict

from directory.fhir import counts, light
from directory.fhir.codes import Canonicals
from directory.fhir.context import ONE_PER_LISTING, Context, Criteria, Found
from directory.fhir.criteria import parse
from directory.fhir.dispatch import ResourceEntry
from directory.fhir.errors import SearchError
from directory.fhir.include import included, parse_inclusions
from directory.fhir.nearby import near_page
from directory.fhir.places import content_page
from directory.fhir.universe import Key, listing_key, mapped, resources
from directory.models import MAX_ID, Listing

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
    found = light.role_places(ctx.session, criteria.listings, _within(criteria))
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


def _ranked_page(ctx: Context, resource_type: str, criteria: Criteria, after: SortKey | None, count: int):
    """`_content` alone on a type with one resource per listing: the Searcher counts the listings
    of its kind it finds (active ones: the index holds no other) and ranks only as far as the
    page; the cursor's key starts with the rank of the page's last match. Only the page is mapped."""
    words = criteria.rankings[0][0]
    skip = 0 if after is None else int(after[0]) + 1
    total, lids = content_page(words, ONE_PER_LISTING[resource_type], skip, count + 1)
    return total, full(ctx, resource_type, [((skip + i, 0, lid, 0), None) for i, lid in enumerate(lids)])


def _text_page(ctx: Context, resource_type: str, criteria: Criteria, after: SortKey | None, count: int):
    """Key order, on a type with one resource per listing, for plain `name` tests alone
    (`Criteria.text_alone`): the database counts the active listings of the type found by every
    test's prefix with no text beyond ASCII (certain matches) and gives the page of them after the
    cursor, in one statement, reading no id into Python (a common surname's four letters find
    ~8,500 practitioners at 1M); the listings with text beyond ASCII (few) and the networks'
    resources are tested as any search's. Only the page is mapped."""
    beyond: set[int] = set()
    for _, others in criteria.text_alone:
        beyond |= set(ctx.session.execute(others).scalars())
    conditions = [Listing.active.is_(True), Listing.kind == ONE_PER_LISTING[resource_type],
                  *(Listing.id.in_(prefixed) for prefixed, _ in criteria.text_alone)]
    if beyond:
        conditions.append(Listing.id.not_in(bindparam("beyond", expanding=True)))
    past = -1 if after is None else after[1] if after[0] == 0 else MAX_ID  # the cursor's listing
    statement = (select(Listing.id, func.count().over()).where(*conditions)
                 .order_by(case((Listing.id > past, 0), else_=1), Listing.id).limit(count + 1))
    rows = ctx.session.execute(statement, {"beyond": sorted(beyond)} if beyond else {}).all()
    total = rows[0][1] if rows else 0
    keys = [(0, lid, 0) for lid, _ in rows if lid > past]
    candidates, tests = _candidates(ctx, resource_type, criteria, only=beyond)
    tested = [key for key, resource in candidates if all(test(key, resource) for test in tests)]
    keys += [key for key in tested if after is None or key > after]
    keys.sort()
    return total + len(tested), full(ctx, resource_type, [(key, None) for key in keys[:count + 1]])


def page(ctx: Context, resource_type: str, criteria: Criteria, after: SortKey | None, count: int):
    """(total, up to count + 1 (sort key, resource) after the cursor). In key order the page is
    taken while counting, keeping no other resource; with no criteria the database counts and the
    page is mapped from the cursor on."""
    if criteria.near_alone:
        total, keys = near_page(ctx, criteria, after, count)
        return total, full(ctx, "Location", keys)
    if criteria.content_alone:
        return _ranked_page(ctx, resource_type, criteria, after, count)
    if criteria.text_alone is not None:
        return _text_page(ctx, resource_type, criteria, after, count)
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
