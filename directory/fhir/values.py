"""How a search value matches a resource's values, per parameter type (FHIR R4 search rules).

string: case- and accent-insensitive prefix of any string part (`:exact` equal, `:contains`
anywhere); token: `code`, `system|code`, `|code`, `system|`, `:text` over texts and displays;
reference: `Type/id`, `id`, our absolute URL, `:Type`; date: a range at the value's precision,
compared with eq ne gt lt ge le sa eb ap.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from directory.fhir.errors import SearchError
from directory.fhir.parameters import Ext, Param

Matcher = Callable[[list], bool]

STRING_PARTS = ("text", "family", "given", "prefix", "suffix", "line", "city", "district", "state", "postalCode",
                "country")
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
                   r"(Z|[+-]\d{2}:\d{2})?)?)?)?")


def walk(resource: dict, path: tuple) -> list:
    """The values at `path` in a resource (lists flattened at every step)."""
    items: list = [resource]
    for step in path:
        found: list = []
        for item in items:
            if not isinstance(item, dict):
                continue
            value = ([e for e in item.get("extension", []) if e.get("url") == step.url] if isinstance(step, Ext)
                     else item.get(step))
            found.extend(value if isinstance(value, list) else [] if value is None else [value])
        items = found
    return items


def split_escaped(text: str, separator: str) -> list[str]:
    """`text` split at each `separator` not escaped by a backslash, escapes removed."""
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


@lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """Lower case without accents: how strings are compared unless `:exact`. A name search tests
    thousands of resources whose names repeat (1M listings: 8,700 candidates of `name=` a
    request): each text is folded once, and ASCII text (no accents to drop, and its casefold is
    its lower case) without decomposing it character by character."""
    if text.isascii():
        return text.lower()
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def string_parts(values: Iterable) -> list[str]:
    parts = []
    for value in values:
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, dict):
            for key in STRING_PARTS:
                found = value.get(key)
                parts.extend(found if isinstance(found, list) else [] if found is None else [found])
    return [p for p in parts if isinstance(p, str)]


def string_matcher(value: str, modifier: str) -> Matcher:
    if modifier == "exact":
        return lambda values: value in string_parts(values)
    wanted = fold(value)
    if modifier == "contains":
        return lambda values: any(wanted in fold(p) for p in string_parts(values))
    return lambda values: any(fold(p).startswith(wanted) for p in string_parts(values))


def _codings(values: Iterable) -> list[tuple[str | None, str | None, list[str]]]:
    """(system, code, texts) of each coding, identifier or code among these values."""
    found = []
    for value in values:
        if isinstance(value, bool):
            found.append((None, "true" if value else "false", []))
        elif isinstance(value, str):
            found.append((None, value, []))
        elif isinstance(value, dict) and "coding" in value or isinstance(value, dict) and "text" in value:
            texts = [value["text"]] if value.get("text") else []
            codings = value.get("coding", [])
            found.extend((c.get("system"), c.get("code"), texts + [c.get("display") or ""]) for c in codings)
            if not codings:
                found.append((None, None, texts))
        elif isinstance(value, dict) and "value" in value:  # an Identifier
            texts = [value["type"]["text"]] if value.get("type", {}).get("text") else []
            found.append((value.get("system"), value["value"], texts))
        elif isinstance(value, dict):
            found.append((value.get("system"), value.get("code"), [value.get("display") or ""]))
    return found


def token_matcher(value: str, modifier: str) -> Matcher:
    if modifier == "text":
        wanted = fold(value)
        return lambda values: any(fold(t).startswith(wanted) for _, _, texts in _codings(values) for t in texts)
    parts = split_escaped(value, "|")
    if len(parts) > 2:
        raise ValueError("a token is code, system|code, |code or system|")
    if len(parts) == 1:
        return lambda values: any(code == parts[0] for _, code, _ in _codings(values))
    system, code = parts
    if not system and not code:
        raise ValueError("a token needs a system or a code")
    if not code:
        return lambda values: any(s == system for s, _, _ in _codings(values))
    return lambda values: any((s or "") == system and c == code for s, c, _ in _codings(values))


def reference_matcher(value: str, modifier: str, param: Param, root: str) -> Matcher:
    """`root` is this server's FHIR base: an absolute reference matches only when it is ours."""
    if value.startswith(("http://", "https://")):
        if not value.startswith(root + "/"):
            return lambda values: False
        value = value[len(root) + 1:]
    if "/" in value:
        kind, _, ident = value.partition("/")
        if not ident or "/" in ident or modifier and modifier != kind:
            raise ValueError("a reference is Type/id, id or this server's URL of one")
        if param.targets and kind not in param.targets:
            raise ValueError(f"{param.name} refers to {' or '.join(param.targets)}")
        wanted = {f"{kind}/{ident}"}
    else:
        wanted = {f"{kind}/{value}" for kind in ((modifier,) if modifier else param.targets)}
    return lambda values: any(isinstance(v, dict) and v.get("reference") in wanted for v in values)


def references_in(keys: set[str]) -> Matcher:
    """Whether any reference among the values names one of these `Type/id`."""
    return lambda values: any(isinstance(v, dict) and v.get("reference") in keys for v in values)


def date_range(text: str) -> tuple[datetime, datetime]:
    """The instants a date, dateTime or instant stands for, [low, high) in UTC; a value without a
    zone is read as UTC."""
    match = _DATE.fullmatch(text.replace(" ", "+"))
    if match is None:
        raise ValueError("a date is YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss[.fff]][Z|+hh:mm]")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    zone_offset = timedelta(0)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        zone_offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    low = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0),
                   int((fraction or "0").ljust(6, "0")[:6]), tzinfo=UTC) - zone_offset
    if month is None:
        high = low.replace(year=low.year + 1)
    elif day is None:
        high = low.replace(year=low.year + low.month // 12, month=low.month % 12 + 1)
    elif hour is None:
        high = low + timedelta(days=1)
    elif second is None:
        high = low + timedelta(minutes=1)
    elif fraction is None:
        high = low + timedelta(seconds=1)
    else:
        high = low + timedelta(microseconds=max(1, 10 ** (6 - min(len(fraction), 6))))
    return low, high


def _compare(prefix: str, low: datetime, high: datetime, now: datetime) -> Callable[[datetime, datetime], bool]:
    def equal(a, b):
        return low <= a and b <= high
    if prefix == "ap":
        slack = abs(now - low) * 0.1
        return lambda a, b: a < high + slack and b > low - slack
    return {
        "eq": equal,
        "ne": lambda a, b: not equal(a, b),
        "gt": lambda a, b: b > high,
        "lt": lambda a, b: a < low,
        "ge": lambda a, b: b > high or equal(a, b),
        "le": lambda a, b: a < low or equal(a, b),
        "sa": lambda a, b: a >= high,
        "eb": lambda a, b: b <= low,
    }[prefix]


def date_matcher(value: str, now: datetime) -> Matcher:
    prefix = value[:2] if value[:2] in PREFIXES else "eq"
    body = value[2:] if value[:2] in PREFIXES else value
    if not body[:1].isdigit():
        raise ValueError(f"a date value is [prefix]date, the prefix one of {' '.join(PREFIXES)}")
    test = _compare(prefix, *date_range(body), now)

    def matches(values: list) -> bool:
        for found in values:
            if isinstance(found, str):
                if test(*date_range(found)):
                    return True
            elif isinstance(found, dict) and ("start" in found or "end" in found):
                start = date_range(found["start"])[0] if "start" in found else datetime.min.replace(tzinfo=UTC)
                end = date_range(found["end"])[1] if "end" in found else datetime.max.replace(tzinfo=UTC)
                if test(start, end):
                    return True
        return False
    return matches


def matcher(param: Param, value: str, modifier: str, root: str, now: datetime) -> Matcher:
    """The test of one value (one part of a comma-separated list) of `param`."""
    try:
        if param.type == "string":
            return string_matcher(value, modifier)
        if param.type == "token":
            return token_matcher(value, modifier)
        if param.type == "reference":
            return reference_matcher(value, modifier, param, root)
        if param.type == "date":
            return date_matcher(value, now)
    except ValueError as error:
        raise SearchError("invalid", f"{param.name}={value}: {error}", param.name) from error
    raise SearchError("not-supported", f"{param.name} cannot be searched this way", param.name)
