"""A search's query parameters as tests over a type's resources: plain parameters, chains
(`location.address-postalcode=`), reverse chains (`_has:PractitionerRole:location:specialty=`),
`near` and `_content`. Comma = any of; a repeated parameter = all of.

A chain or `_has` is answered by a search of the other type (`Context.find`), whose matches the
outer test looks up. Besides the tests, criteria may name the listings that can match (`listings`,
a superset): the search maps only those.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from directory.fhir.codes import Canonicals
from directory.fhir.errors import SearchError
from directory.fhir.narrowing import narrowing
from directory.fhir.parameters import PARAMS, Param
from directory.fhir.places import Near, content_ranking, near_listings, parse_near
from directory.fhir.universe import Key, listing_key, listings_of
from directory.fhir.values import matcher, references_in, split_escaped, walk

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
    find: Callable[[Context, str, list[tuple[str, str]]], Found]


@dataclass
class Criteria:
    tests: list[Callable[[Key, dict], bool]] = field(default_factory=list)
    listings: set[int] | None = None
    near: Near | None = None
    distance: Callable[[dict], float | None] | None = None
    ranking: dict[int, int] | None = None
    applied: list[tuple[str, str]] = field(default_factory=list)

    def narrow(self, listings: set[int]) -> None:
        self.listings = set(listings) if self.listings is None else self.listings & listings


def parse(ctx: Context, resource_type: str, pairs: list[tuple[str, str]]) -> Criteria:
    """The criteria of these (name, value) pairs for `resource_type` (result parameters skipped)."""
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
    return criteria


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
        ranking = content_ranking(value)
        criteria.narrow(set(ranking))
        criteria.ranking = ranking
        criteria.tests.append(lambda key, resource: listing_key(key) in ranking)
        return True
    criteria.tests.append(_test(ctx, param, modifier, value))
    narrowed = narrowing(ctx.session, resource_type, base, modifier, split_escaped(value, ","))
    if narrowed is not None:
        criteria.narrow(narrowed)
    if base == "_id":
        criteria.narrow(listings_of(ctx.session, resource_type, split_escaped(value, ",")))
    return True


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
    criteria.narrow(near_listings(near))

    def miles(resource: dict) -> float | None:
        position = resource.get("position")
        if not position:
            return None
        found = near.miles(position["latitude"], position["longitude"])
        return found if found <= near.radius_mi else None
    criteria.distance = miles
    criteria.tests.append(lambda key, resource: miles(resource) is not None)
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
    found = _inner(ctx, target, [(rest, value)], name)
    keys = set(found.matches)
    path = param.path
    test = references_in(keys)
    criteria.tests.append(lambda key, resource: test(walk(resource, path)))
    narrowed = narrowing(ctx.session, resource_type, param.name, "", sorted(keys))
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
    criteria.narrow(listings_of(ctx.session, resource_type, [ref[len(prefix):] for ref in referred]))
    return True
