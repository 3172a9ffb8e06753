"""Where a patient says they are: a ZIP, ZIP+4, "City, ST" or "City ST" resolved offline from the
`zipcodes` gazetteer, or a street address resolved by the configured geocoder (when there is one).

A city's point is the mean of the centroids of its active ZIPs of the "STANDARD" type (the ones
that deliver to streets; PO-box and single-building ZIPs sit wherever their post office is), or of
all its active ZIPs when it has no standard one. The gazetteer names no "main" ZIP of a city, and
the mean of a city's delivery ZIPs falls inside it for the cities checked (Boston, Houston, St.
Louis, Portland OR): searches use a radius of miles around it, so a point near the middle is what
matters. The city index (about 30,000 names) is built once, on first use.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, Protocol

import zipcodes

from directory.geo import STATE_NAMES, ZIP_PATTERN, ZipError, computed_apart, lookup_zip

MAX_PLACE = 200  # characters, after control characters are dropped (as the `q` text)
MAX_MATCHES = 60  # cities offered for an ambiguous name (Washington is in 30-odd states)
Resolution = Literal["zip", "city", "address"]

# Abbreviations in city names, written either way ("St. Louis" and the gazetteer's "Saint Louis").
WORD_FORMS = {"st": "saint", "ste": "sainte", "mt": "mount", "ft": "fort", "pt": "point"}
COUNTRY_WORDS = ("usa", "us", "united states", "united states of america")
# A street address: a house number then words, or any digit beside a street word (none of them a
# state's two letters: "Hartford CT 06103" is a city and a ZIP).
STREET_WORDS = frozenset((
    "street st avenue ave av road rd boulevard blvd drive dr lane ln way court place pl terrace ter "
    "highway hwy parkway pkwy circle cir square sq suite ste apt unit floor route rte pike trail trl "
    "plaza plz expressway expy turnpike tpke broadway"
).split())
HOUSE_NUMBER = re.compile(r"^\s*\d+[a-z]?(?:-\d+)?\s+\w", re.IGNORECASE)
DROPPED = re.compile(r"['.\u2019]")  # "Coeur d'Alene" is one word, "St." an abbreviation
NOT_WORD = re.compile(r"[^a-z0-9]+")
ZIP_AT_END = re.compile(r"[\s,]+(\d{5}(?:-?\d{4})?)$")


class Geocoder(Protocol):
    """What the place box needs of the configured geocoder (directory/geocoding/), registered as
    `app.extensions["directory.geocoder"]` when GEOCODER is not off."""

    def geocode_address(self, text: str) -> tuple[float, float] | None:
        """Latitude and longitude in degrees of a US street address, or None when not found."""


@dataclass(frozen=True)
class CityMatch:
    city: str
    state: str

    @property
    def label(self) -> str:
        return f"{self.city}, {self.state}"


@dataclass(frozen=True)
class ResolvedPlace:
    """The point a search is centred on and how it was found."""

    name: str
    lat: float
    lon: float
    resolved_by: Resolution
    zip: str | None = None


@dataclass
class PlaceError(ValueError):
    """A place that cannot be resolved. `matches`: the cities a name could mean (ambiguous, or not
    in the state given), for the page to offer as links and the API to list."""

    code: str
    message: str
    matches: list[CityMatch] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


class GeocoderUnavailable(RuntimeError):
    """The configured geocoder failed (network, timeout, refusal): not the patient's input."""


def clean_place(text: str) -> str:
    """Control characters dropped, whitespace collapsed (what the patient meant to type)."""
    kept = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text or "")
    return " ".join(kept.split())


def _plain_words(text: str) -> list[str]:
    """Lowercase ASCII words: accents dropped, apostrophes and periods removed, other punctuation
    a space."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return NOT_WORD.sub(" ", DROPPED.sub("", plain)).split()


def _words(text: str) -> list[str]:
    """The words of a name with abbreviations written out ("st" -> "saint")."""
    return [WORD_FORMS.get(word, word) for word in _plain_words(text)]


def city_key(text: str) -> str:
    """A city name's key: its words run together, so "Mc Lean" and "McLean" meet."""
    return "".join(_words(text))


@dataclass(frozen=True)
class _City:
    name: str
    state: str
    lat: float
    lon: float
    zips: int


@lru_cache(maxsize=1)
def _city_index() -> dict[str, dict[str, _City]]:
    """The city index, read once per process, apart (see `geo.computed_apart`: the gazetteer's
    rows would stay in this process's memory, ~100 MB)."""
    return computed_apart(read_city_index)


def read_city_index() -> dict[str, dict[str, _City]]:
    """city key -> state -> city, from every active ZIP with coordinates (military ZIPs left out).
    A name known only as another city's "acceptable" name is indexed when no city has it as its own."""
    keys: dict[str, str] = {}  # about 19,000 distinct names for 42,000 ZIPs: each normalised once
    own: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    aliases: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for row in zipcodes.list_all():
        lat, lon = float(row["lat"]), float(row["long"])
        if not row["active"] or (lat == 0.0 and lon == 0.0) or row["zip_code_type"] == "MILITARY":
            continue
        standard = row["zip_code_type"] == "STANDARD"
        for name, table in ((row["city"], own), *((alias, aliases) for alias in row["acceptable_cities"])):
            key = keys.get(name)
            if key is None:
                key = keys[name] = city_key(name)
            table[(key, row["state"])].append((name, lat, lon, standard))
    index: dict[str, dict[str, _City]] = defaultdict(dict)
    for (key, state), rows in (*aliases.items(), *own.items()):  # own names replace aliases
        if not key:
            continue
        points = [r for r in rows if r[3]] or rows
        names = {r[0] for r in rows}
        name = (names.pop() if len(names) == 1 else Counter(r[0] for r in rows).most_common(1)[0][0]).title()
        index[key][state] = _City(name=name, state=state, lat=round(sum(r[1] for r in points) / len(points), 4),
                                  lon=round(sum(r[2] for r in points) / len(points), 4), zips=len(rows))
    return dict(index)


def _state_code(text: str) -> str | None:
    """The two-letter code of 'MA', 'ma' or 'Massachusetts', else None."""
    words = _words(text)
    if len(words) == 1 and len(words[0]) == 2 and words[0].upper() in STATE_NAMES:
        return words[0].upper()
    joined = " ".join(words)
    return next((code for code, name in STATE_NAMES.items() if " ".join(_words(name)) == joined), None)


def _by_size(cities) -> list[CityMatch]:
    ranked = sorted(cities, key=lambda c: (-c.zips, c.state))
    return [CityMatch(c.name, c.state) for c in ranked[:MAX_MATCHES]]


def _city(name: str, state: str | None) -> ResolvedPlace:
    key = city_key(name)
    found = _city_index().get(key, {})
    if state is not None:
        city = found.get(state)
        if city is None:
            message = f"no city called {name!r} in {state} in our gazetteer"
            if found:
                message += "; did you mean one of these?"
            raise PlaceError("unknown_place", message, _by_size(found.values()))
        return ResolvedPlace(f"{city.name}, {city.state}", city.lat, city.lon, "city")
    if not found:
        raise PlaceError("unknown_place", f"{name!r} is not a ZIP code or a US city we know: "
                                          "enter a ZIP or City, ST (e.g. Boston, MA)")
    if len(found) > 1:
        raise PlaceError("ambiguous_place", f"there is more than one {next(iter(found.values())).name}: "
                                            "add the state, e.g. "
                                            f"{_by_size(found.values())[0].label}", _by_size(found.values()))
    city = next(iter(found.values()))
    return ResolvedPlace(f"{city.name}, {city.state}", city.lat, city.lon, "city")


def looks_like_street_address(text: str) -> bool:
    """A house number then words ("1 Main St ..."), or a digit beside a street word."""
    if HOUSE_NUMBER.match(text):
        return True
    return any(ch.isdigit() for ch in text) and any(w in STREET_WORDS for w in _plain_words(text))


def _zip(text: str) -> ResolvedPlace:
    try:
        found = lookup_zip(text)
    except ZipError as error:
        raise PlaceError("unknown_zip", str(error)) from None
    return ResolvedPlace(f"{found.zip} ({found.city}, {found.state})", found.lat, found.lon, "zip", found.zip)


def _city_state(text: str) -> tuple[str, str | None]:
    """("Boston", "MA") from "Boston, MA", "Boston MA", "boston , massachusetts"; (text, None)
    when no state is named."""
    if "," in text:
        head, _, tail = text.rpartition(",")
        state = _state_code(tail)
        if state is None and tail.strip():
            raise PlaceError("unknown_place", f"{tail.strip()!r} is not a US state: write City, ST "
                                              "with the state's two letters (e.g. Boston, MA)")
        return head, state
    words = text.split()
    for size in (3, 2, 1):  # a state's name has three words at most ("District of Columbia")
        if len(words) > size and (state := _state_code(" ".join(words[-size:]))) is not None:
            if city_key(" ".join(words[:-size])) in _city_index():
                return " ".join(words[:-size]), state
    return text, None


def resolve_place(text: str, geocoder: Geocoder | None = None,
                  on_failure: Callable[[Exception], None] | None = None) -> ResolvedPlace:
    """The point of what a patient typed in the place box: a ZIP or ZIP+4, "City, ST" or "City ST"
    (a full state name too; case, spaces, punctuation and "St."/"Saint" as they come), a city
    alone when only one state has it, or a street address through `geocoder` when one is given.

    Raises PlaceError (codes unknown_zip, unknown_place, ambiguous_place, needs_geocoder,
    address_not_found) and GeocoderUnavailable when the geocoder fails (`on_failure` sees why)."""
    text = clean_place(text)
    if not text:
        raise PlaceError("unknown_place", "enter a ZIP or City, ST (e.g. 02115 or Boston, MA)")
    if len(text) > MAX_PLACE:
        raise PlaceError("invalid_parameter", f"place is at most {MAX_PLACE} characters")
    compact = text.replace(" ", "") if re.fullmatch(r"[\d\s-]+", text) else text
    if ZIP_PATTERN.match(compact):
        return _zip(compact)
    if re.fullmatch(r"[\d\s-]+", text):
        raise PlaceError("unknown_zip", "a ZIP code is 5 digits, or ZIP+4 like 02115-1234")
    if looks_like_street_address(text):
        return _address(text, geocoder, on_failure)
    country = re.compile(rf"[\s,]+(?:{'|'.join(COUNTRY_WORDS)})\.?$", re.IGNORECASE)
    text = country.sub("", text)
    trailing = ZIP_AT_END.search(text)
    if trailing:  # "Boston, MA 02115": the ZIP is the most precise part
        return _zip(trailing.group(1))
    name, state = _city_state(text)
    if not city_key(name):
        raise PlaceError("unknown_place", "enter a ZIP or City, ST (e.g. 02115 or Boston, MA)")
    return _city(name, state)


def _address(text: str, geocoder: Geocoder | None, on_failure) -> ResolvedPlace:
    if geocoder is None:
        raise PlaceError("needs_geocoder", "street addresses cannot be searched on this site: "
                                           "enter a ZIP or City, ST (e.g. 02115 or Boston, MA)")
    try:
        point = geocoder.geocode_address(text)
    except Exception as error:  # any failure of a remote service is the service's, not the input's
        if on_failure is not None:
            on_failure(error)
        raise GeocoderUnavailable("the address service is not answering; enter a ZIP or City, ST, "
                                  "or try again later") from None
    if point is None:
        raise PlaceError("address_not_found", f"could not find the address {text!r}: check it, "
                                              "or enter a ZIP or City, ST")
    lat, lon = float(point[0]), float(point[1])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):  # math.nan fails both comparisons too
        raise PlaceError("address_not_found", f"could not place the address {text!r}: enter a ZIP or City, ST")
    return ResolvedPlace(text, lat, lon, "address")
