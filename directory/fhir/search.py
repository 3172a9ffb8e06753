"""Type-level search: `GET [type]?_id=...&_count=N`, answered as a searchset Bundle with `total`
and `self` / `next` links; `next` carries an opaque keyset cursor (the last key of the page), so a
deep page costs what the first does.

Only Practitioner is searchable so far (by _id); the Plan-Net parameters extend `SOURCES` and each
type's filters. Comma = any of; a repeated parameter = all of.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import func
from sqlmodel import Session, select
from werkzeug.datastructures import MultiDict

from directory.fhir import ids, listing
from directory.fhir.codes import Canonicals
from directory.fhir.dispatch import ResourceEntry
from directory.fhir.records import ListingRecord, load_listings
from directory.models import MAX_ID, Listing

DEFAULT_COUNT = 20
MAX_COUNT = 100
CURSOR = "_cursor"
# Parameters about the answer, not the match; _format is the content negotiation's.
RESULT_PARAMS = {"_count", CURSOR, "_format"}


class SearchError(Exception):
    """A request the server refuses: code is the OperationOutcome issue code, expression the parameter."""

    def __init__(self, code: str, message: str, expression: str | None = None):
        super().__init__(message)
        self.code, self.message, self.expression = code, message, expression


@dataclass(frozen=True)
class Source:
    """Where a type's search looks: the listings it comes from, and one listing's resource."""

    kind: str
    parse_id: Callable[[str], int | None]
    resource: Callable[[ListingRecord, Canonicals], dict]


def _practitioner_id(value: str) -> int | None:
    parsed = ids.parse("Practitioner", value)
    number = None if parsed is None else int(parsed[1][0])
    return number if number is not None and number <= MAX_ID else None


SOURCES = {"Practitioner": Source("practitioner", _practitioner_id, listing.practitioner)}


def _count(args: MultiDict) -> int:
    values = args.getlist("_count")
    if not values:
        return DEFAULT_COUNT
    if len(values) > 1 or not values[0].isascii() or not values[0].isdigit():
        raise SearchError("invalid", "_count is a whole number from 0 (total only) to 100", "_count")
    return min(int(values[0]), MAX_COUNT)


def encode_cursor(after: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


def decode_cursor(token: str) -> int:
    try:
        after = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["after"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError) as error:
        raise SearchError("invalid", "_cursor is not one this server gave", CURSOR) from error
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_ID:
        raise SearchError("invalid", "_cursor is not one this server gave", CURSOR)
    return after


def _id_sets(args: MultiDict, source: Source) -> list[set[int]]:
    """One set of listing ids per `_id` given (each a comma-separated list: any of)."""
    sets = []
    for value in args.getlist("_id"):
        numbers = {source.parse_id(part.strip()) for part in value.split(",") if part.strip()}
        if not numbers:
            raise SearchError("invalid", "_id needs at least one id", "_id")
        sets.append({n for n in numbers if n is not None})
    return sets


def _check_params(args: MultiDict, entry: ResourceEntry, lenient: bool) -> None:
    """Refuse an unknown parameter or modifier (ignore it with `Prefer: handling=lenient`)."""
    known = {p.name for p in entry.search}
    for name in args:
        base, _, modifier = name.partition(":")
        if base in RESULT_PARAMS and not modifier or lenient:
            continue
        if base not in known:
            raise SearchError("not-supported", f"{entry.type} has no search parameter {base}", name)
        if modifier:
            raise SearchError("not-supported", f"{name}: {base} takes no modifier here", name)


def search(session: Session, entry: ResourceEntry, args: MultiDict, base_url: str, canon: Canonicals, *,
           lenient: bool = False) -> dict:
    """A searchset Bundle of `entry.type` for these query parameters; `base_url` is the type's URL.
    `self` names only the parameters applied; `next` adds the cursor after this page's last key."""
    source = SOURCES.get(entry.type)
    if source is None or not entry.search:
        raise SearchError("not-supported", f"Searching {entry.type} is not supported yet")
    _check_params(args, entry, lenient)
    count = _count(args)
    after = decode_cursor(args[CURSOR]) if CURSOR in args else 0
    conditions = [Listing.kind == source.kind, Listing.active.is_(True)]
    for wanted in _id_sets(args, source):
        conditions.append(Listing.id.in_(sorted(wanted)) if wanted else Listing.id.is_(None))
    total = session.exec(select(func.count()).select_from(Listing).where(*conditions)).one()
    page_ids = [] if count == 0 else list(session.exec(
        select(Listing.id).where(*conditions, Listing.id > after).order_by(Listing.id).limit(count + 1)))
    more = len(page_ids) > count
    page_ids = page_ids[:count]
    applied = [(name, value) for name in ("_id",) for value in args.getlist(name)]
    applied.append(("_count", str(count)))
    links = [{"relation": "self", "url": _url(base_url, applied + ([(CURSOR, args[CURSOR])] if CURSOR in args
                                                                   else []))}]
    if more:
        links.append({"relation": "next", "url": _url(base_url, applied + [(CURSOR, encode_cursor(page_ids[-1]))])})
    root = base_url.rsplit("/", 1)[0]
    entries = []
    for record in load_listings(session, page_ids):
        resource = source.resource(record, canon)
        entries.append({"fullUrl": f"{root}/{resource['resourceType']}/{resource['id']}", "resource": resource,
                        "search": {"mode": "match"}})
    return {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links, **(
        {"entry": entries} if entries else {})}


def _url(base_url: str, params: list[tuple[str, str]]) -> str:
    return f"{base_url}?{urlencode(params)}" if params else base_url
