"""A search's query parameters as tests over a type's resources: plain parameters, chains
(`location.address-postalcode=`), reverse chains (`_has:PractitionerRole:location:specialty=`),
`near` and `_content`. Comma = any of; a repeated parameter = all of.

A chain or `_has` is answered by a search of the other type (`Context.find`), whose matches the
outer test looks up. Besides the tests, criteria may name the listings that can match (`listings`,
a superset): the search maps only those.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

import numpy as np
from sqlalchemy import or_, text
from sqlmodel import Session, select

from directory.fhir import ids
from directory.fhir.codes import ACCEPTING, NUCC_SYSTEM, Canonicals
from directory.fhir.errors import SearchError
from directory.fhir.narrowing import CERTAIN, certain_selects, narrowing
from directory.fhir.parameters import PARAMS, Ext, Param
from directory.fhir.places import Near, content_ranking, content_words, near_listings, parse_near
from directory.fhir.universe import Key, among, dialect, id_list, listing_key, listings_of
from directory.fhir.values import matcher, references_in, split_escaped, walk
from directory.geo import great_circle_mi
from directory.models import INACTIVE, MAX_ID, Listing, Location, Network, Role

# Parameters about the answer, not the match (_format is the content negotiation's).
RESULT_PARAMS = {"_count", "_cursor", "_format", "_include", "_revinclude", "_include:iterate",
                 "_revinclude:iterate"}


@dataclass(frozen=True)
class Found:
    """A sub-search's matches: "Type/id" -> (resource, miles from the place searched, or None)."""

    matches: dict[str, tuple[dict, float | None]]
    listings: set[int] | None = None


@dataclass
class Context:
    session: Session
    canon: Canonicals
    root: str  # this server's FHIR base URL
    now: datetime
    lenient: bool
    find: Callable[..., Found]  # (ctx, type, pairs, whole=False)
    records: dict = field(default_factory=dict)  # listing id -> ListingRecord read in this request


@dataclass
class Criteria:
    tests: list[Callable[[Key, dict], bool]] = field(default_factory=list)
    listings: set[int] | None = None
    near: Near | None = None
    distance: Callable[[dict], float | None] | None = None
    ranking: dict[int, int] | None = None
    applied: list[tuple[str, str]] = field(default_factory=list)
    # The top-level elements the tests read (what a light resource must hold, see `light`).
    fields: set[str] = field(default_factory=lambda: {"id"})
    # Filters the Searcher may apply with `near` (each keeps a superset of the matches):
    # the listings' specialties (any of), networks (any of), kind.
    specialties: tuple[str, ...] | None = None
    networks: tuple[int, ...] | None = None
    kind: str | None = None
    near_chain: tuple | None = None  # (the reference parameter, its name) of a `location.near` chain
    # Run over every candidate (key, resource) before the tests (e.g. distances computed at once).
    prepare: list[Callable[[list[tuple[Key, dict]]], None]] = field(default_factory=list)
    deferred: list[tuple[str, str, str]] = field(default_factory=list)  # narrowings left to the Searcher
    near_test: Callable[[Key, dict], bool] | None = None  # Location?near's test (the radius)
    near_alone: bool = False  # Location?near is the page's only test: the Searcher was not asked
    # Each _content's words and ranking (listing -> rank), ranked once parsed unless `content_alone`:
    # the only test of a page of a type with one resource per listing, which the Searcher pages.
    rankings: list[tuple[str, dict[int, int]]] = field(default_factory=list)
    content_alone: bool = False
    near_locations: frozenset[int] | None = None  # a `location.near` chain's locations within the radius
    location_miles: dict[int, float] | None = None  # and their distances
    accepting: frozenset[bool] | None = None  # a plain new-patient's values (newpt: True, nopt: False)
    # The tests every light PractitionerRole built `within` these criteria passes (see `light.Within`:
    # the chain's locations, the plain specialty, network and new-patient): not run on those.
    within_tests: set[Callable[[Key, dict], bool]] = field(default_factory=set)
    ranking_test: Callable[[Key, dict], bool] | None = None  # _content's test (a ranked listing's)
    listings_only: bool = False  # a test rejects what the networks give (payers, networks, plans)
    # Plain `name` tests (CERTAIN) whose narrowing waits for the end of `parse`: (test, name, values).
    lazy_text: list[tuple[Callable[[Key, dict], bool], str, list[str]]] = field(default_factory=list)
    # When those are a page's only tests: each one's (prefixed, beyond ASCII) statements (see
    # `narrowing.certain_selects`), which the database counts and pages (`search._text_page`).
    text_alone: list[tuple] | None = None

    def narrow(self, listings: set[int]) -> None:
        self.listings = set(listings) if self.listings is None else self.listings & listings


def parse(ctx: Context, resource_type: str, pairs: list[tuple[str, str]], page: bool = False) -> Criteria:
    """The criteria of these (name, value) pairs for `resource_type` (result parameters skipped).
    `page`: for a page of a search (`search.page`), which answers `Location?near` alone from the
    locations' points without the Searcher's listings (`near_alone`)."""
    criteria = Criteria()
    for name, value in pairs:
        if name in RESULT_PARAMS:
            continue
        try:
            applied = _one(ctx, resource_type, name, value, criteria)
        except _Unknown as error:
            if ctx.lenient:
                continue
            raise SearchError("not-supported", str(error), name) from None
        if applied:
            criteria.applied.append((name, value))
    if criteria.lazy_text:
        _text_narrowing(ctx, resource_type, criteria, page)
    if criteria.rankings:
        criteria.content_alone = (page and resource_type in ONE_PER_LISTING and len(criteria.rankings) == 1
                                  and criteria.tests == [criteria.ranking_test])
        if not criteria.content_alone:
            for words, ranking in criteria.rankings:
                ranking.update(content_ranking(words))
                criteria.narrow(set(ranking))
            criteria.ranking = criteria.rankings[-1][1]  # the order: the last _content's
    if criteria.near is not None and criteria.near_test is not None:
        criteria.near_alone = (page and resource_type == "Location" and criteria.tests == [criteria.near_test]
                               and criteria.ranking is None)
        if not criteria.near_alone:
            criteria.narrow(near_listings(criteria.near))
    if criteria.near_chain is not None:
        _near_chain(ctx, resource_type, criteria)
    else:
        for base, modifier, value in criteria.deferred:
            narrowed, _ = narrowing(ctx.session, resource_type, base, modifier, split_escaped(value, ","))
            if narrowed is not None:
                criteria.narrow(narrowed)
    return criteria


def _narrow(ctx: Context, resource_type: str, base: str, modifier: str, values: list[str],
            criteria: Criteria) -> None:
    narrowed, _ = narrowing(ctx.session, resource_type, base, modifier, values)
    if narrowed is not None:
        criteria.narrow(narrowed)


def _text_narrowing(ctx: Context, resource_type: str, criteria: Criteria, page: bool) -> None:
    """The plain `name` tests' narrowing: left to the database whole when they are a page's only
    tests (`text_alone`), else read now (their candidates, as every narrowing)."""
    lazy = criteria.lazy_text
    if (page and resource_type in ONE_PER_LISTING and criteria.tests == [test for test, _, _ in lazy]
            and criteria.listings is None and criteria.near is None and not criteria.rankings):
        selects = [certain_selects(ctx.session, resource_type, base, values) for _, base, values in lazy]
        if all(found is not None for found in selects):
            criteria.text_alone = selects
            return
    for _, base, values in lazy:
        _narrow(ctx, resource_type, base, "", values, criteria)


def _element(path: tuple) -> str:
    step = path[0] if path else "id"
    return "extension" if isinstance(step, Ext) else step


class _Unknown(Exception):
    """A parameter, modifier or chain this server does not know (ignored when lenient)."""


def _one(ctx: Context, resource_type: str, name: str, value: str, criteria: Criteria) -> bool:
    if name.startswith("_has:"):
        return _reverse_chain(ctx, resource_type, name, value, criteria)
    head, dot, rest = name.partition(".")
    base, _, modifier = head.partition(":")
    param = PARAMS[resource_type].get(base)
    if param is None or param.type == "special" and base not in ("near", "_content"):
        raise _Unknown(f"{resource_type} has no search parameter {base}")
    if dot:
        return _chain(ctx, resource_type, param, modifier, rest, name, value, criteria)
    if modifier and modifier not in param.modifiers():
        raise _Unknown(f"{name}: {base} takes no modifier {modifier}")
    if not value:
        raise SearchError("invalid", f"{name} needs a value", name)
    if base == "near":
        return _near(name, value, criteria)
    if base == "_content":
        # Ranked once parsed (`parse`), unless the page can ask the Searcher for itself (`content_alone`).
        words = content_words(value)
        rankings = criteria.rankings
        at = len(rankings)
        rankings.append((words, {}))
        criteria.ranking_test = lambda key, resource: listing_key(key) in rankings[at][1]
        criteria.tests.append(criteria.ranking_test)
        criteria.listings_only = True
        return True
    test = _test(ctx, param, modifier, value)
    criteria.tests.append(test)
    if base == "new-patient" and not modifier and criteria.accepting is None:
        parts = split_escaped(value, ",")
        if all(part in ACCEPTING_CODES for part in parts):
            criteria.accepting = frozenset(ACCEPTING_CODES[part] for part in parts)
            criteria.within_tests.add(test)
    criteria.fields.add(_element(param.path))
    if _searcher_filter(resource_type, base, modifier, value, criteria):
        # The Searcher applies it with location.near (if given): the database narrows only without.
        criteria.deferred.append((base, modifier, value))
        # Plain codes, or network ids as `Organization/net-N` or `net-N` (the Searcher's filter
        # also takes a URL's last part, whose other parts the test still checks).
        if base == "specialty" or all(_NETWORK_REF.fullmatch(part) for part in split_escaped(value, ",")):
            criteria.within_tests.add(test)
    elif not modifier and (resource_type, base) in CERTAIN:
        criteria.lazy_text.append((test, base, split_escaped(value, ",")))
    else:
        _narrow(ctx, resource_type, base, modifier, split_escaped(value, ","), criteria)
    if base == "_id":
        criteria.narrow(listings_of(ctx.session, resource_type, split_escaped(value, ",")))
    return True


_NETWORK_REF = re.compile(r"(?:Organization/)?net-[0-9]+")
ACCEPTING_CODES = {code: accepting for accepting, (code, _) in ACCEPTING.items()}  # newpt -> True
# Types giving exactly one resource per active listing of a kind (key (0, listing, 0)).
ONE_PER_LISTING = {"Practitioner": "practitioner", "Organization": "organization"}
# Types whose listings the Searcher may narrow by specialty and network (a role's or an
# affiliation's specialty is one of its listing's, its network one its listing is in), and kind.
PUSHED = {"PractitionerRole": "practitioner", "OrganizationAffiliation": "organization"}


def _searcher_filter(resource_type: str, base: str, modifier: str, value: str, criteria: Criteria) -> bool:
    """Keep a plain `specialty` or `network` value (its first occurrence) for the Searcher;
    whether it was kept."""
    if resource_type not in PUSHED or modifier:
        return False
    parts = split_escaped(value, ",")
    if base == "specialty" and criteria.specialties is None:
        codes = []
        for part in parts:
            system, bar, code = part.rpartition("|")
            if not code or bar and system != NUCC_SYSTEM:
                return False
            codes.append(code)
        criteria.specialties = tuple(codes)
        return True
    if base == "network" and criteria.networks is None:
        numbers = []
        for part in parts:
            parsed = ids.parse("Organization", part.rstrip("/").rsplit("/", 1)[-1])
            if parsed is None or parsed[0] != "network" or int(parsed[1][0]) > MAX_ID:
                return False
            numbers.append(int(parsed[1][0]))
        criteria.networks = tuple(numbers)
        return True
    return False


@cache
def _places(dialect_name: str, own: bool):
    """The points of the locations these listings' resources can refer to, and their listings,
    built once: their roles' and, when `own`, their own (a PractitionerRole refers only to its
    role's location)."""
    roles = Location.id.in_(select(Role.location_id).where(among(Role.practitioner_id, "chunk", dialect_name)))
    return (select(Location.id, Location.lat, Location.lon, Location.listing_id)
            .where(or_(among(Location.listing_id, "chunk", dialect_name), roles) if own else roles))


# The inactive listings (few: the partial index of migration 0015). A location of one is no
# Location, so no chain reaches it; left out in Python rather than by looking up each location's
# listing (2,465 locations near New York for a role search at 1M).
_INACTIVE = select(Listing.id).where(text(INACTIVE))


def _near_chain(ctx: Context, resource_type: str, criteria: Criteria) -> None:
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
    if rows:
        inactive = set(ctx.session.execute(_INACTIVE).scalars())
        rows = [row for row in rows if row[3] not in inactive] if inactive else rows
    miles_of: dict[int, float] = {}
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


def _test(ctx: Context, param: Param, modifier: str, value: str) -> Callable[[Key, dict], bool]:
    parts = [part for part in split_escaped(value, ",") if part]
    if not parts:
        raise SearchError("invalid", f"{param.name} needs a value", param.name)
    matchers = [matcher(param, part, modifier, ctx.root, ctx.now) for part in parts]
    path = param.path
    return lambda key, resource: any(m(walk(resource, path)) for m in matchers)


def _near(name: str, value: str, criteria: Criteria) -> bool:
    if criteria.near is not None:
        raise SearchError("invalid", "near is given once", name)
    near = criteria.near = parse_near(value, name)
    criteria.fields.add("position")  # the Searcher's listings narrow the candidates once parsed (`parse`)

    known: dict[str, float] = {}  # resource id -> miles, computed for all candidates at once

    def prepare(candidates: list[tuple[Key, dict]]) -> None:
        placed = [(r["id"], r["position"]) for _, r in candidates if r.get("position")]
        if placed:
            miles = great_circle_mi(near.lat, near.lon, np.array([p["latitude"] for _, p in placed]),
                                    np.array([p["longitude"] for _, p in placed]))
            known.update(zip((ident for ident, _ in placed), miles.tolist(), strict=True))

    def miles(resource: dict) -> float | None:
        position = resource.get("position")
        if not position:
            return None
        found = known.get(resource["id"])
        if found is None:
            found = near.miles(position["latitude"], position["longitude"])
        return found if found <= near.radius_mi else None
    criteria.prepare.append(prepare)
    criteria.distance = miles
    criteria.near_test = lambda key, resource: miles(resource) is not None
    criteria.tests.append(criteria.near_test)
    return True


def _inner(ctx: Context, target: str, pairs: list[tuple[str, str]], name: str) -> Found:
    try:
        return ctx.find(ctx, target, pairs)
    except SearchError as error:
        raise SearchError(error.code, f"{name}: {error.message}", name) from None


def _chain(ctx: Context, resource_type: str, param: Param, modifier: str, rest: str, name: str, value: str,
           criteria: Criteria) -> bool:
    """`reference[:Type].parameter=value`: the resources whose reference names a match of the other search."""
    target = modifier or (param.targets[0] if len(param.targets) == 1 else "")
    if param.type != "reference" or target not in PARAMS or (modifier and modifier not in param.targets):
        raise _Unknown(f"{name}: {param.name} cannot be chained to {target or 'a type'}")
    inner_name = rest.partition(".")[0].partition(":")[0]
    if inner_name not in PARAMS[target] and not inner_name.startswith("_has"):
        raise _Unknown(f"{name}: {target} has no search parameter {inner_name}")
    criteria.fields.add(_element(param.path))
    if inner_name == "near" and param.name == "location" and rest == "near":
        if criteria.near is not None:
            raise SearchError("invalid", "near is given once", name)
        criteria.near = parse_near(value, name)
        criteria.near_chain = (param, name)
        return True
    found = _inner(ctx, target, [(rest, value)], name)
    keys = set(found.matches)
    path = param.path
    test = references_in(keys)
    criteria.tests.append(lambda key, resource: test(walk(resource, path)))
    narrowed, _ = narrowing(ctx.session, resource_type, param.name, "", sorted(keys))
    if narrowed is not None:
        criteria.narrow(narrowed)
    if inner_name == "near" and param.name == "location":
        # The Searcher indexes a practitioner at its roles' places: its hits are every listing
        # whose resources refer to a location within the radius.
        if criteria.near is not None:
            raise SearchError("invalid", "near is given once", name)
        criteria.near = parse_near(value, name)
        if found.listings is not None:
            criteria.narrow(found.listings)

        def miles(resource: dict) -> float | None:
            distances = [found.matches[ref["reference"]][1] for ref in walk(resource, path)
                         if ref.get("reference") in found.matches]
            return min((d for d in distances if d is not None), default=None)
        criteria.distance = miles
    return True


def _reverse_chain(ctx: Context, resource_type: str, name: str, value: str, criteria: Criteria) -> bool:
    """`_has:Type:reference:parameter=value`: the resources that a match of the other search refers to."""
    parts = name.split(":", 3)
    if len(parts) < 4 or not all(parts):
        raise SearchError("invalid", "_has is _has:Type:reference:parameter", name)
    _, source, reference, rest = parts
    param = PARAMS.get(source, {}).get(reference)
    if param is None or param.type != "reference" or resource_type not in param.targets:
        raise _Unknown(f"{name}: {source}.{reference} does not refer to {resource_type}")
    found = _inner(ctx, source, [(rest, value)], name)
    prefix = f"{resource_type}/"
    referred = {ref["reference"] for resource, _ in found.matches.values() for ref in walk(resource, param.path)
                if isinstance(ref, dict) and ref.get("reference", "").startswith(prefix)}
    criteria.tests.append(lambda key, resource: f"{resource_type}/{resource['id']}" in referred)
    criteria.fields.add("id")
    criteria.narrow(listings_of(ctx.session, resource_type, [ref[len(prefix):] for ref in referred]))
    return True
