"""`_include` and `_revinclude`: the resources a page's matches refer to, and those that refer to
them. Each appears once (never again beside a match), is not counted in `total`, and a page
carries at most MAX_INCLUDED of them, then an OperationOutcome entry says what was left out."""

from __future__ import annotations

from dataclasses import dataclass

from directory.fhir import universe
from directory.fhir.context import Context
from directory.fhir.errors import SearchError
from directory.fhir.parameters import PARAMS, Param
from directory.fhir.universe import listings_of
from directory.fhir.values import walk

MAX_INCLUDED = 500


@dataclass(frozen=True)
class Inclusion:
    """`Source:parameter[:Target]` as asked (`reverse` for _revinclude, `iterate` for :iterate)."""

    text: str
    source: str
    param: Param
    target: str | None
    reverse: bool
    iterate: bool


def parse_inclusions(resource_type: str, pairs: list[tuple[str, str]]) -> list[Inclusion]:
    found = []
    for name, value in pairs:
        base, _, modifier = name.partition(":")
        if base not in ("_include", "_revinclude"):
            continue
        if modifier not in ("", "iterate"):
            raise SearchError("not-supported", f"{name}: the only modifier is :iterate", name)
        for text in value.split(","):
            found.append(_inclusion(resource_type, name, text.strip(), base == "_revinclude", modifier == "iterate"))
    return found


def _inclusion(resource_type: str, name: str, text: str, reverse: bool, iterate: bool) -> Inclusion:
    parts = text.split(":")
    if len(parts) not in (2, 3) or parts[0] not in PARAMS:
        raise SearchError("not-supported", f"{name}={text}: not Type:parameter[:Target] of a type served", name)
    source, param_name = parts[:2]
    target = parts[2] if len(parts) == 3 else None
    param = PARAMS[source].get(param_name)
    if param is None or param.type != "reference" or target is not None and target not in param.targets:
        raise SearchError("not-supported", f"{name}={text}: {source} has no reference parameter {param_name}"
                          + (f" to {target}" if target else ""), name)
    if not iterate and (source != resource_type if not reverse else resource_type not in param.targets):
        raise SearchError("not-supported", f"{name}={text} does not apply to {resource_type}", name)
    return Inclusion(text, source, param, target, reverse, iterate)


def included(ctx: Context, resource_type: str, matches: list[dict], inclusions: list[Inclusion]) -> tuple[
        list[dict], bool]:
    """The resources the inclusions add to these matches (in order, each once), and whether the
    limit left some out."""
    seen = {f"{r['resourceType']}/{r['id']}" for r in matches}
    added: list[dict] = []
    frontier = matches
    first = True
    while frontier:
        wave: list[dict] = []
        for inclusion in inclusions:
            if not first and not inclusion.iterate:
                continue
            for resource in _apply(ctx, inclusion, frontier):
                key = f"{resource['resourceType']}/{resource['id']}"
                if key in seen:
                    continue
                if len(added) >= MAX_INCLUDED:
                    return added, True
                seen.add(key)
                added.append(resource)
                wave.append(resource)
        frontier, first = wave, False
    return added, False


def _apply(ctx: Context, inclusion: Inclusion, resources: list[dict]) -> list[dict]:
    if inclusion.reverse:
        keys = [f"{r['resourceType']}/{r['id']}" for r in resources if r["resourceType"] in inclusion.param.targets]
        if not keys:
            return []
        found = ctx.find(ctx, inclusion.source, [(inclusion.param.name, ",".join(keys))], True)
        return [resource for resource, _ in found.matches.values()]
    wanted: dict[str, dict[str, None]] = {}  # type -> ids, in the order referred to
    for resource in resources:
        if resource["resourceType"] != inclusion.source:
            continue
        for ref in walk(resource, inclusion.param.path):
            kind, _, ident = (ref.get("reference") or "").partition("/") if isinstance(ref, dict) else ("", "", "")
            if ident and kind in PARAMS and inclusion.target in (None, kind):
                wanted.setdefault(kind, {})[ident] = None
    found = []
    for kind, idents in wanted.items():
        # One batch per type: the listings those ids come from, mapped once (inactive ones give none).
        listings = listings_of(ctx.session, kind, list(idents))
        mapped = universe.resources(ctx.session, kind, ctx.canon, listings=listings, known=ctx.records)
        by_id = {r["id"]: r for _, r in mapped if r["id"] in idents}
        found += [by_id[ident] for ident in idents if ident in by_id]
    return found
