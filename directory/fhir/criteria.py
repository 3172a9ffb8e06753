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

import numpy as np

from directory.fhir import ids
from directory.fhir.codes import ACCEPTING, NUCC_SYSTEM
from directory.fhir.context import ONE_PER_LISTING, PUSHED, Context, Criteria, Found
from directory.fhir.errors import SearchError
from directory.fhir.narrowing import CERTAIN, certain_selects, narrowing
from directory.fhir.near_chain import near_chain
from directory.fhir.parameters import PARAMS, Ext, Param
from directory.fhir.places import content_ranking, content_words, near_listings, parse_near
from directory.fhir.universe import Key, listing_key, listings_of
from directory.fhir.values import matcher, references_in, split_escaped, walk
from directory.geo import great_circle_mi
from directory.models import MAX_ID

# Parameters about the answer, not the match (_format is the content negotiation's).
RESULT_PARAMS = {"_count", "_cursor", "_format", "_include", "_revinclude", "_include:iterate",
                 "_revinclude:iterate"}


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
        near_chain(ctx, resource_type, criteria)
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
