"""What a geocoder's answer says (match type, state, country), and whether to believe it.

A point is rejected when it is too coarse a match (a city, county, state, postcode... instead of a
house, building or street), outside the United States and its territories, in another state than
the address, or farther than the configured distance (default 25 miles) from its ZIP's centroid.
The type, state and country are read from the raw answer of Nominatim (`addresstype`, `class`,
`place_rank`, `address`), Photon (`properties.type`, `state`, `countrycode`) and Pelias
(`properties.layer`, `region_a`, `country_a`); another geocoder's answer is judged by distance only.
"""

from __future__ import annotations

from dataclasses import dataclass

from geopy.distance import great_circle

from directory.geocoding.addresses import state_code

# Match types coarser than a street, as the three geocoders name them.
COARSE = frozenset({
    "continent", "country", "state", "region", "macroregion", "province", "county", "macrocounty",
    "state_district", "city", "town", "village", "hamlet", "municipality", "locality", "localadmin",
    "borough", "macrohood", "district", "city_district", "suburb", "quarter", "neighbourhood",
    "neighborhood", "postcode", "postalcode", "island", "archipelago", "administrative", "boundary",
})
STREET_RANK = 26  # Nominatim's place_rank of a street; houses and buildings rank 28-30
US_COUNTRIES = frozenset({"us", "usa", "pr", "pri", "gu", "gum", "vi", "vir", "as", "asm", "mp", "mnp", "um"})


@dataclass(frozen=True)
class Match:
    """One geocoder answer: the point (degrees) and what the answer says about it (None: not said)."""

    lat: float
    lon: float
    kind: str | None = None  # the match type: "house", "building", "street", "city", ...
    state: str | None = None  # two-letter code
    country: str | None = None  # lower-case ISO code
    rank: int | None = None  # Nominatim's place_rank


def _nominatim(raw: dict) -> dict:
    address = raw.get("address") or {}
    iso = str(address.get("ISO3166-2-lvl4") or "")
    state = iso[3:] if iso.upper().startswith("US-") else state_code(address.get("state"))
    rank = raw.get("place_rank")
    # addresstype says what the match is ("building", "road", "city", "postcode"); for a house
    # node it is only "place", and the type says "house".
    kind = raw.get("addresstype") or raw.get("type")
    if kind == "place" and raw.get("type"):
        kind = raw["type"]
    return {"kind": kind, "state": state, "country": address.get("country_code"),
            "rank": int(rank) if str(rank).isdigit() else None}


def _photon(raw: dict) -> dict:
    properties = raw.get("properties") or {}
    return {"kind": properties.get("type"), "state": state_code(properties.get("state")),
            "country": properties.get("countrycode")}


def _pelias(raw: dict) -> dict:
    properties = raw.get("properties") or {}
    return {"kind": properties.get("layer"), "state": state_code(properties.get("region_a")),
            "country": properties.get("country_a")}


READERS = {"nominatim": _nominatim, "photon": _photon, "pelias": _pelias}


def read_match(service: str, lat: float, lon: float, raw) -> Match:
    """The Match a geopy Location's `raw` answer describes, for the service named."""
    reader = READERS.get(service)
    found = reader(raw) if reader is not None and isinstance(raw, dict) else {}
    kind = found.get("kind")
    country = found.get("country")
    return Match(lat=float(lat), lon=float(lon), kind=str(kind)[:32] if kind else None,
                 state=found.get("state"), country=str(country).lower() if country else None,
                 rank=found.get("rank"))


def coarse_reason(match: Match) -> str | None:
    """Why the match is too coarse or not in the US, or None."""
    if match.country is not None and match.country not in US_COUNTRIES:
        return f"the geocoder placed it outside the United States (country {match.country.upper()})"
    if (match.kind or "").lower() in COARSE:
        return f"the geocoder matched only a {match.kind}, not the street address"
    if match.rank is not None and match.rank < STREET_RANK:
        return f"the geocoder matched only an area (place rank {match.rank}), not the street address"
    return None


def rejection(match: Match, *, state: str, centre: tuple[float, float], zip5: str,
              max_distance_mi: float) -> str | None:
    """Why `match` cannot place a location in `state` whose ZIP's centroid is `centre` (lat, lon in
    degrees), or None when it can."""
    if reason := coarse_reason(match):
        return reason
    if match.state is not None and state and match.state != state.upper():
        return f"the geocoder placed it in {match.state}, not {state.upper()}"
    miles = great_circle(centre, (match.lat, match.lon)).miles
    if miles > max_distance_mi:
        return (f"the geocoder placed it {miles:.1f} mi from the centre of ZIP {zip5} "
                f"(more than {max_distance_mi:g} mi)")
    return None
