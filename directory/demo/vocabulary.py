"""Demo vocabulary: constants, word lists and seed-data readers, areas, batch containers, small helpers."""

from __future__ import annotations

import csv
import random
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from directory import reference
from directory.geo import ZipPlace, active_zip_places, great_circle_mi, lookup_zip
from directory.models import (
    Listing,
    ListingSpecialty,
    Location,
    Organization,
    Participation,
    Practitioner,
    Role,
)

DEMO_DATA = reference.SEED_DATA / "demo"
NPI_SERIAL_START = 10_000_000
NPI_OVERFLOW_START = 90_000_000  # serials used only when a generated NPI is already taken
ATTACH_CAP = 200  # org locations remembered per area for practitioners to join

IVIG_PRODUCTS = (
    "Gammagard Liquid", "Privigen", "Octagam", "Gamunex-C", "Flebogamma DIF",
    "Bivigam", "Panzyga", "Asceniv", "Gammaplex", "Gammaked",
)
VERIFIERS = (
    "demo-verifier@example.org", "demo-staff@example.org",
    "demo-volunteer@example.org", "demo-review@example.org",
)
VERIFICATION_METHODS = ("phone", "email", "attestation", "nppes")
STREETS = (
    "Main", "Oak", "Maple", "Park", "Cedar", "Elm", "Pine", "Washington", "Lake", "Hill", "Church",
    "Market", "Center", "River", "Spring", "Franklin", "Jefferson", "Lincoln", "Madison", "Highland",
    "Sunset", "Meadow", "Forest", "Ridge", "Union", "College", "Academy", "Walnut", "Chestnut",
    "Willow", "Harbor", "Valley", "Mill", "Bridge", "Grove", "Orchard", "Summit", "Prospect",
    "Medical Center", "Hospital", "Wellness", "Commerce", "Liberty", "Pleasant", "Broad",
)
STREET_TYPES = ("St", "Ave", "Rd", "Blvd")

# Plausible area codes per state (fictional 555-01xx numbers follow them).
AREA_CODES: dict[str, tuple[str, ...]] = {
    "AL": ("205", "251", "256"), "AK": ("907",), "AZ": ("480", "520", "602"), "AR": ("501", "479"),
    "CA": ("213", "310", "415", "619", "818"), "CO": ("303", "720", "719"), "CT": ("203", "860"),
    "DE": ("302",), "DC": ("202",), "FL": ("305", "813", "407", "904"), "GA": ("404", "678", "770"),
    "HI": ("808",), "ID": ("208",), "IL": ("312", "773", "847", "618"), "IN": ("317", "219"),
    "IA": ("515", "319"), "KS": ("913", "316", "785"), "KY": ("502", "859"), "LA": ("504", "225"),
    "ME": ("207",), "MD": ("410", "301", "443"), "MA": ("617", "508", "781"), "MI": ("313", "248", "734"),
    "MN": ("612", "651", "763", "218"), "MS": ("601", "662"), "MO": ("314", "816", "636"),
    "MT": ("406",), "NE": ("402", "308"), "NV": ("702", "775"), "NH": ("603",),
    "NJ": ("201", "973", "856", "732"), "NM": ("505", "575"), "NY": ("212", "718", "516", "914"),
    "NC": ("704", "919", "336"), "ND": ("701",), "OH": ("614", "216", "513", "330"),
    "OK": ("405", "918"), "OR": ("503", "971", "541"), "PA": ("215", "412", "610", "717"),
    "RI": ("401",), "SC": ("803", "864", "843"), "SD": ("605",), "TN": ("615", "901", "865"),
    "TX": ("214", "713", "210", "512", "817"), "UT": ("801", "435"), "VT": ("802",),
    "VA": ("703", "804", "757"), "WA": ("206", "425", "509", "360"), "WV": ("304",),
    "WI": ("414", "608"), "WY": ("307",), "PR": ("787", "939"), "VI": ("340",), "GU": ("671",),
    "AS": ("684",), "MP": ("670",),
}
DEFAULT_AREA_CODES = ("800",)

HOURS = (
    {"mon": "08:00-17:00", "tue": "08:00-17:00", "wed": "08:00-17:00", "thu": "08:00-17:00",
     "fri": "08:00-17:00", "sat": None, "sun": None},
    {"mon": "07:00-19:00", "tue": "07:00-19:00", "wed": "07:00-19:00", "thu": "07:00-19:00",
     "fri": "07:00-17:00", "sat": "08:00-14:00", "sun": None},
    {"mon": "08:30-16:30", "tue": "08:30-16:30", "wed": "08:30-16:30", "thu": "08:30-16:30",
     "fri": "08:30-12:00", "sat": None, "sun": None},
    {"mon": "09:00-17:00", "tue": "09:00-17:00", "wed": "09:00-17:00", "thu": "09:00-19:00",
     "fri": "09:00-17:00", "sat": "09:00-13:00", "sun": None},
)
HOURS_24 = {day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}

# Organization types with their share of organizations.
ORG_TYPES = (
    ("infusion_center", 45), ("home_infusion", 20), ("hospital_infusion", 15),
    ("specialty_pharmacy", 5), ("practice", 15),
)
# Practitioner groups with their share of practitioners.
PRAC_GROUPS = (
    ("rheumatology", 25), ("neurology", 25), ("dermatology", 10), ("allergy_immunology", 15),
    ("hematology", 7), ("internal_medicine", 5), ("infusion_staff", 13),
)
PRACTICE_SPECIALTY = {  # practice_suffix -> the physician specialty of the group
    "Rheumatology Associates": "207RR0500X",
    "Neurology Group": "2084N0400X",
    "Neuromuscular Clinic": "2084N0008X",
    "Dermatology & Immunology": "207NI0002X",
    "Allergy & Immunology Partners": "207K00000X",
    "Arthritis & Rheumatology Clinic": "207RR0500X",
    "Neurology Associates": "2084N0400X",
    "Immunology Center": "207KI0005X",
    "Hematology & Oncology Associates": "207RH0003X",
    "Pediatric Specialty Clinic": "2080P0201X",
    "Internal Medicine Group": "207R00000X",
    "Neuroscience Institute": "2084N0400X",
}
PRACTICE_FALLBACK_SPECIALTIES = ("207RR0500X", "2084N0400X", "207K00000X", "207N00000X")
LANGUAGE_WEIGHTS = {
    "es": 40, "zh": 6, "vi": 5, "ko": 4, "tl": 4, "ru": 4, "ar": 3, "fr": 3, "ht": 3, "pt": 3,
    "hi": 2, "pl": 2, "de": 1, "it": 1, "ur": 1, "fa": 1, "ja": 1, "so": 1, "am": 1, "bn": 1,
    "pa": 1, "gu": 1, "uk": 1, "he": 1,
}
COMMERCIAL_PLAN_TYPES = (
    ("PPO", 6), ("HMO", 5), ("EPO", 3), ("POS", 2), ("MEDICARE_ADVANTAGE", 4),
    ("MEDICAID_MANAGED_CARE", 3), ("MARKETPLACE", 3),
)
# Government-style programmes with fictional administrator names.
GOVERNMENT_PAYERS = (
    ("Homefront Military Health Program", "TRICARE"),
    ("Veterans Crossing Care Network", "VA"),
)
PAYER_COUNT = 12
AREA_PAYERS = (3, 5)  # an area's listings mostly join networks of this many payers


@dataclass(frozen=True)
class Area:
    name: str
    state: str
    radius_mi: float
    weight: float
    zips: tuple[ZipPlace, ...]


@dataclass
class AreaState:
    """What one area remembers during a run: its payers' networks and recent org locations."""

    networks: list[int]
    for_physicians: deque = field(default_factory=lambda: deque(maxlen=ATTACH_CAP))
    for_staff: deque = field(default_factory=lambda: deque(maxlen=ATTACH_CAP))


@dataclass
class Batch:
    listings: list[dict] = field(default_factory=list)
    organizations: list[dict] = field(default_factory=list)
    practitioners: list[dict] = field(default_factory=list)
    specialties: list[dict] = field(default_factory=list)
    locations: list[dict] = field(default_factory=list)
    roles: list[dict] = field(default_factory=list)
    participations: list[dict] = field(default_factory=list)

    def tables(self):
        """(table, rows) in foreign-key order."""
        return (
            (Listing.__table__, self.listings),
            (Organization.__table__, self.organizations),
            (Practitioner.__table__, self.practitioners),
            (ListingSpecialty.__table__, self.specialties),
            (Location.__table__, self.locations),
            (Role.__table__, self.roles),
            (Participation.__table__, self.participations),
        )


# ---------------------------------------------------------------- word lists and areas


def _lines(name: str) -> tuple[str, ...]:
    with open(DEMO_DATA / name, encoding="utf-8") as handle:
        return tuple(line.strip() for line in handle if line.strip())


@lru_cache(maxsize=1)
def _words() -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    with open(DEMO_DATA / "org_words.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            found.setdefault(row["kind"], []).append(row["word"].strip())
    return {kind: tuple(words) for kind, words in found.items()}


@lru_cache(maxsize=1)
def _names() -> tuple[tuple[str, ...], tuple[str, ...]]:
    return _lines("first_names.txt"), _lines("last_names.txt")


@lru_cache(maxsize=4)
def areas(metros_path: Path = DEMO_DATA / "metros.csv") -> tuple[Area, ...]:
    """Each metro/rural area of metros.csv with every active ZIP within its radius (file order)."""
    places = active_zip_places()
    lats = np.fromiter((p.lat for p in places), dtype=float, count=len(places))
    lons = np.fromiter((p.lon for p in places), dtype=float, count=len(places))
    found = []
    with open(metros_path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            center = lookup_zip(row["center_zip"])
            radius = float(row["radius_mi"])
            within = np.flatnonzero(great_circle_mi(center.lat, center.lon, lats, lons) <= radius)
            zips = tuple(sorted((places[i] for i in within), key=lambda p: p.zip)) or (center,)
            found.append(Area(row["metro"], row["state"], radius, float(row["weight"]), zips))
    return tuple(found)


# ---------------------------------------------------------------- small helpers


def _weighted(rng: random.Random, pairs) -> str:
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights)[0]


def _phone(rng: random.Random, area_code: str) -> str:
    return f"({area_code}) 555-01{rng.randrange(100):02d}"


def _slug(text: str) -> str:
    return "-".join(reference.words(text))


def _address(rng: random.Random) -> str:
    street = f"{rng.randint(1, 9899)} {rng.choice(STREETS)} {rng.choice(STREET_TYPES)}"
    if rng.random() < 0.35:
        street += f", Suite {rng.randint(1, 9) * 100 + rng.randint(0, 30)}"
    return street


def _unique(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(codes))[:3]


def _service_ids() -> set[str]:
    return {c.id for c in reference.vocabulary().services()}
