"""A location's address as the geocoder is asked it, and its hash (what "unchanged" means)."""

from __future__ import annotations

import hashlib

from directory.geo import STATE_NAMES

# A state's code by its name, case folded ("new york" -> "NY").
STATE_CODES = {name.casefold(): code for code, name in STATE_NAMES.items()} | {"united states virgin islands": "VI"}


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def address_text(address: str, city: str, state: str, zip5: str) -> str:
    """The one-line query sent to a geocoder: "12 Main St, Boston, MA 02115"."""
    return ", ".join(part for part in (_clean(address), _clean(city), f"{_clean(state)} {_clean(zip5)}".strip())
                     if part)


def address_hash(address: str, city: str, state: str, zip5: str) -> str:
    """SHA-256 (hex) of the address with case and spacing folded: the same hash means the same place
    to ask a geocoder for, so an address whose hash is unchanged is never geocoded again."""
    key = "\x1f".join(_clean(part).casefold() for part in (address, city, state, zip5))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def location_hash(location) -> str:
    """`address_hash` of anything with address, city, state and zip (a Location, a dict of its values)."""
    get = location.get if isinstance(location, dict) else lambda name: getattr(location, name)
    return address_hash(get("address"), get("city"), get("state"), get("zip"))


def state_code(name: str | None) -> str | None:
    """A US state or territory's two-letter code from its name or code; None when unknown."""
    text = _clean(name)
    if len(text) == 2 and text.isalpha():
        return text.upper()
    return STATE_CODES.get(text.casefold())
