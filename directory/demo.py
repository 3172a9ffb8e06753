"""Fictional demo data: payers, networks, organizations and practitioners, deterministic per seed.

`generate(engine, count=..., seed=...)` deletes every demo row (listings and networks flagged
`is_demo`, with their children) and writes `count` new listings in batches with Core bulk inserts.
Primary keys are assigned here (after the current maximum of each table), so rows link to each other
without round trips, and the same seed and count give identical rows, ids included, in a fresh
database. Memory stays bounded: only a batch of rows and a small state per area are kept.

Everything is made up: payer and place names come from seed_data/demo/, phone numbers use the
fictional 555-01xx range, websites are under example.org, NPIs are check-digit-valid serials.
Locations sit exactly on their ZIP centroid (geo_source 'zip_centroid').
"""

from __future__ import annotations

import csv
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.engine import Connection, Engine

from directory import reference
from directory.geo import ZipPlace, active_zip_places, great_circle_mi, lookup_zip
from directory.models import (
    Listing,
    ListingSpecialty,
    Location,
    Network,
    Organization,
    Participation,
    Practitioner,
    Role,
)
from directory.npi import make_npi

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


# ---------------------------------------------------------------- the generator


class _Generator:
    def __init__(self, rng: random.Random, today: date, start: dict[str, int], networks: list[dict]):
        self.rng = rng
        self.today = today
        self.stamp = datetime(today.year, today.month, today.day, tzinfo=UTC)
        self.next_id = dict(start)
        self.serial = NPI_SERIAL_START
        self.areas = areas()
        self.area_weights = [a.weight for a in self.areas]
        words = _words()
        self.place_words = words["place_word"]
        self.suffixes = {
            "infusion_center": words["infusion_suffix"],
            "home_infusion": tuple(w for w in words["pharmacy_suffix"] if "Specialty" not in w)
            or words["pharmacy_suffix"],
            "specialty_pharmacy": tuple(w for w in words["pharmacy_suffix"] if "Specialty" in w)
            or words["pharmacy_suffix"],
            "hospital_infusion": tuple(w for w in words["hospital_suffix"] if "Children" not in w),
            "children_hospital": tuple(w for w in words["hospital_suffix"] if "Children" in w)
            or ("Children's Hospital Infusion Clinic",),
            "practice": words["practice_suffix"],
        }
        self.first_names, self.last_names = _names()
        known = set(reference.languages())
        self.language_pairs = [(c, w) for c, w in LANGUAGE_WEIGHTS.items() if c in known]
        self.services = _service_ids()
        self.all_networks = [n["id"] for n in networks]
        by_payer: dict[str, list[int]] = {}
        for network in networks:
            if network["plan_type"] not in ("TRICARE", "VA"):
                by_payer.setdefault(network["payer"], []).append(network["id"])
        payers = list(by_payer)
        self.state = []
        for _area in self.areas:
            chosen = rng.sample(payers, min(len(payers), rng.randint(*AREA_PAYERS))) if payers else []
            self.state.append(AreaState([nid for p in chosen for nid in by_payer[p]]))

    # -- ids and shared listing fields

    def _take(self, table: str) -> int:
        value = self.next_id[table]
        self.next_id[table] = value + 1
        return value

    def _svc(self, ids: list[str]) -> list[str]:
        return [s for s in dict.fromkeys(ids) if s in self.services]

    def _languages(self) -> list[str]:
        rng = self.rng
        langs = ["en"]
        extra = rng.choices((0, 1, 2), weights=(55, 32, 13))[0]
        for _ in range(extra):
            code = _weighted(rng, self.language_pairs)
            if code not in langs:
                langs.append(code)
        return langs

    def _listing(self, lid: int, kind: str, name: str, services: list[str], telehealth_p: float) -> dict:
        rng = self.rng
        serial, self.serial = self.serial, self.serial + 1
        verified = rng.random() >= 0.10
        website = None
        if rng.random() < 0.45:
            website = f"https://example.org/demo/{_slug(name)}-{lid}"
        return {
            "id": lid,
            "kind": kind,
            "npi": make_npi(serial, individual=kind == "practitioner"),
            "name": name,
            "active": True,
            "accepting_new_patients": rng.random() < 0.70,
            "telehealth": rng.random() < telehealth_p,
            "languages": self._languages(),
            "services": services,
            "website": website,
            "source": "demo",
            "is_demo": True,
            "last_verified": self.today - timedelta(days=rng.randint(0, 200)) if verified else None,
            "verified_by": rng.choice(VERIFIERS) if verified else None,
            "verification_method": rng.choice(VERIFICATION_METHODS) if verified else None,
            "version": 1,
            "created_at": self.stamp,
            "updated_at": self.stamp,
        }

    def _specialties(self, batch: Batch, lid: int, codes: list[str]) -> None:
        for i, code in enumerate(_unique(codes)):
            batch.specialties.append({"listing_id": lid, "code": code, "is_primary": i == 0})

    def _participations(self, batch: Batch, lid: int, state: AreaState) -> None:
        rng = self.rng
        wanted = rng.choices((1, 2, 3, 4), weights=(30, 35, 22, 13))[0]
        chosen: list[int] = []
        for _ in range(wanted * 4):
            if len(chosen) == wanted:
                break
            pool = state.networks if state.networks and rng.random() < 0.85 else self.all_networks
            nid = rng.choice(pool)
            if nid not in chosen:
                chosen.append(nid)
        for nid in chosen:
            start = None
            if rng.random() < 0.5:
                start = self.today - timedelta(days=rng.randint(30, 3650))
            batch.participations.append(
                {"listing_id": lid, "network_id": nid, "start_date": start, "end_date": None}
            )

    def _location(self, batch: Batch, lid: int, place: ZipPlace, name: str | None, hours: dict) -> int:
        rng = self.rng
        loc_id = self._take("location")
        area_code = rng.choice(AREA_CODES.get(place.state, DEFAULT_AREA_CODES))
        batch.locations.append(
            {
                "id": loc_id,
                "listing_id": lid,
                "name": name,
                "address": _address(rng),
                "city": place.city,
                "state": place.state,
                "zip": place.zip,
                "lat": place.lat,
                "lon": place.lon,
                "geo_source": "zip_centroid",
                "phone": _phone(rng, area_code),
                "fax": _phone(rng, area_code) if rng.random() < 0.75 else None,
                "hours": hours,
                "wheelchair_accessible": rng.random() < 0.93,
            }
        )
        return loc_id

    # -- organizations

    def organization(self, batch: Batch, area_index: int) -> None:
        rng = self.rng
        area, state = self.areas[area_index], self.state[area_index]
        lid = self._take("listing")
        org_type = _weighted(rng, ORG_TYPES)
        place = rng.choice(area.zips)
        pediatric = False
        chairs: int | None = None
        services: list[str]
        if org_type == "infusion_center":
            suffix = rng.choice(self.suffixes["infusion_center"])
            codes = ["261QI0500X"] + (["261QM2500X"] if rng.random() < 0.2 else [])
            pediatric = rng.random() < 0.25
            services = ["ivig", "infusion_center"]
            services += ["prior_authorization"] if rng.random() < 0.75 else []
            services += ["scig"] if rng.random() < 0.35 else []
            services += ["rituximab_infusion"] if rng.random() < 0.40 else []
            services += ["eculizumab_infusion"] if rng.random() < 0.10 else []
            services += ["igg_level_testing"] if rng.random() < 0.20 else []
            services += ["pediatric_infusion"] if pediatric else []
            chairs = rng.randint(4, 40)
        elif org_type == "home_infusion":
            suffix = rng.choice(self.suffixes["home_infusion"])
            first = rng.choice(("3336H0001X", "251F00000X"))
            other = "251F00000X" if first == "3336H0001X" else "3336H0001X"
            codes = [first] + ([other] if rng.random() < 0.5 else [])
            pediatric = rng.random() < 0.4
            services = ["home_infusion", "ivig", "scig", "nursing_visit"]
            services += ["prior_authorization"] if rng.random() < 0.6 else []
            services += ["pediatric_infusion"] if pediatric and rng.random() < 0.5 else []
        elif org_type == "hospital_infusion":
            children = rng.random() < 0.2
            suffix = rng.choice(self.suffixes["children_hospital" if children else "hospital_infusion"])
            codes = ["282NC2000X" if children else "282N00000X", "261QI0500X"]
            pediatric = children or rng.random() < 0.3
            services = ["ivig", "infusion_center"]
            services += ["plasma_exchange"] if rng.random() < 0.4 else []
            services += ["rituximab_infusion"] if rng.random() < 0.4 else []
            services += ["eculizumab_infusion"] if rng.random() < 0.15 else []
            services += ["prior_authorization"] if rng.random() < 0.5 else []
            services += ["pediatric_infusion"] if pediatric else []
            chairs = rng.randint(4, 40)
        elif org_type == "specialty_pharmacy":
            suffix = rng.choice(self.suffixes["specialty_pharmacy"])
            codes = ["3336S0011X"] + (["3336H0001X"] if rng.random() < 0.3 else [])
            services = ["ivig"] if rng.random() < 0.9 else []
            services += ["scig"] if rng.random() < 0.6 else []
            services += ["prior_authorization"] if rng.random() < 0.7 else []
        else:  # practice
            suffix = rng.choice(self.suffixes["practice"])
            physician = PRACTICE_SPECIALTY.get(suffix) or rng.choice(PRACTICE_FALLBACK_SPECIALTIES)
            multi = rng.random() < 0.3
            codes = ["193200000X" if multi else "193400000X", physician]
            if multi:
                codes.append(rng.choice([c for c in PRACTICE_FALLBACK_SPECIALTIES if c != physician]))
            pediatric = suffix.startswith("Pediatric")
            services = ["ivig"] if rng.random() < 0.35 else []
            services += ["prior_authorization"] if rng.random() < 0.5 else []
            if physician.startswith("2084"):
                services += ["emg_testing"] if rng.random() < 0.6 else []
                services += ["skin_biopsy"] if rng.random() < 0.3 else []
            elif physician.startswith(("207K", "2080P0201")):
                services += ["igg_level_testing"] if rng.random() < 0.7 else []
                services += ["scig"] if rng.random() < 0.3 else []
            elif physician.startswith("207N"):
                services += ["skin_biopsy"] if rng.random() < 0.6 else []
            if "ivig" in services:
                services.append("infusion_center")
                chairs = rng.randint(4, 12)
        style = rng.random()
        place_word = rng.choice(self.place_words)
        if style < 0.6:
            name = f"{place_word} {suffix}"
        elif style < 0.85:
            name = f"{place.city} {suffix}"
        else:
            name = f"{place_word} {suffix} of {place.city}"
        services = self._svc(services)
        products = []
        if "ivig" in services:
            products = rng.sample(IVIG_PRODUCTS, rng.randint(2, 6))
        batch.listings.append(self._listing(lid, "organization", name, services, 0.10))
        batch.organizations.append(
            {
                "listing_id": lid,
                "org_type": org_type,
                "ivig_products": products,
                "chairs": chairs,
                "pediatric": pediatric,
                "prior_auth_help": "prior_authorization" in services,
            }
        )
        self._specialties(batch, lid, codes)
        sites = 1
        if org_type == "infusion_center" and rng.random() < 0.15:
            sites = rng.randint(2, 3)
        pharmacy = org_type in ("home_infusion", "specialty_pharmacy")
        hours = HOURS_24 if pharmacy and rng.random() < 0.3 else rng.choice(HOURS)
        used: set[str] = set()
        for site in range(sites):
            if site:
                for _ in range(5):
                    place = rng.choice(area.zips)
                    if place.zip not in used:
                        break
            used.add(place.zip)
            loc_name = f"{name} — {place.city}" if sites > 1 else None
            loc_id = self._location(batch, lid, place, loc_name, hours)
            if org_type in ("practice", "hospital_infusion", "infusion_center"):
                state.for_physicians.append((lid, loc_id))
            if org_type in ("infusion_center", "hospital_infusion", "home_infusion"):
                state.for_staff.append((lid, loc_id))
        self._participations(batch, lid, state)

    # -- practitioners

    def _practitioner_profile(self) -> tuple[list[str], str, list[str], bool]:
        """(specialty codes, primary first; credentials; services; is a physician)."""
        rng = self.rng
        group = _weighted(rng, PRAC_GROUPS)
        chance = rng.random
        services: list[str] = []
        if group == "rheumatology":
            codes = ["2080P0216X" if chance() < 0.15 else "207RR0500X"]
            codes += ["207R00000X"] if chance() < 0.25 else []
            services += ["prior_authorization"] if chance() < 0.3 else []
        elif group == "neurology":
            codes = ["2084N0402X" if chance() < 0.1 else "2084N0400X"]
            codes += ["2084N0008X"] if chance() < 0.35 else []
            codes += ["2084N0600X"] if chance() < 0.2 else []
            codes += ["204R00000X"] if chance() < 0.08 else []
            services += ["emg_testing"] if chance() < 0.5 else []
            services += ["skin_biopsy"] if chance() < 0.2 else []
        elif group == "dermatology":
            codes = ["207N00000X"]
            codes += ["207NI0002X"] if chance() < 0.35 else []
            codes += ["207NP0225X"] if chance() < 0.1 else []
            services += ["skin_biopsy"] if chance() < 0.7 else []
        elif group == "allergy_immunology":
            first = _weighted(rng, (("207K00000X", 60), ("207KI0005X", 20), ("2080P0201X", 20)))
            codes = [first]
            codes += ["207KI0005X"] if first == "207K00000X" and chance() < 0.3 else []
            codes += ["207RA0201X"] if chance() < 0.1 else []
            codes += ["2080I0007X"] if first == "2080P0201X" and chance() < 0.3 else []
            services += ["igg_level_testing"] if chance() < 0.6 else []
            services += ["scig"] if chance() < 0.2 else []
        elif group == "hematology":
            codes = ["207RH0000X"] + (["207RH0003X"] if chance() < 0.4 else [])
            services += ["plasma_exchange"] if chance() < 0.1 else []
        elif group == "internal_medicine":
            codes = ["207R00000X"]
            codes += ["207RI0001X"] if chance() < 0.2 else []
            codes += ["208M00000X"] if chance() < 0.15 else []
        else:  # infusion nurses, nurse practitioners and physician assistants
            role = _weighted(rng, (("np", 50), ("rn", 30), ("pa", 20)))
            if role == "np":
                first = _weighted(
                    rng, (("363L00000X", 40), ("363LA2200X", 25), ("363LF0000X", 25), ("363LP0200X", 10))
                )
                codes = [first] + (["364SN0800X"] if chance() < 0.1 else [])
                credentials = rng.choice(("NP", "APRN"))
            elif role == "rn":
                codes = ["163WI0500X"] + (["163WH0200X"] if chance() < 0.3 else [])
                credentials = "RN"
            else:
                codes = ["363A00000X"] + (["363AM0700X"] if chance() < 0.3 else [])
                credentials = "PA-C"
            services += ["ivig"] if chance() < 0.7 else []
            services += ["nursing_visit"] if role == "rn" or chance() < 0.2 else []
            services += ["scig"] if chance() < 0.3 else []
            return codes, credentials, services, False
        credentials = "DO" if chance() < 0.2 else "MD"
        return codes, credentials, services, True

    def practitioner(self, batch: Batch, area_index: int) -> None:
        rng = self.rng
        area, state = self.areas[area_index], self.state[area_index]
        lid = self._take("listing")
        codes, credentials, services, physician = self._practitioner_profile()
        codes = _unique(codes)
        first = rng.choice(self.first_names)
        last = rng.choice(self.last_names)
        gender = rng.choices(("F", "M", "X"), weights=(52, 46, 2))[0]
        listing = self._listing(
            lid, "practitioner", f"{first} {last}, {credentials}", self._svc(services), 0.40
        )
        batch.listings.append(listing)
        batch.practitioners.append(
            {
                "listing_id": lid,
                "first_name": first,
                "last_name": last,
                "credentials": credentials,
                "gender": gender,
            }
        )
        self._specialties(batch, lid, codes)
        pool = state.for_physicians if physician else state.for_staff
        roles = 1 if rng.random() < 0.75 else 2
        places: list[tuple[int | None, int]] = []
        own_office = False
        for _ in range(roles):
            if pool and rng.random() < 0.8:
                org_id, loc_id = pool[rng.randrange(len(pool))]
                if any(loc_id == existing for _, existing in places):
                    continue
                places.append((org_id, loc_id))
            elif not own_office:
                own_office = True
                loc_id = self._location(batch, lid, rng.choice(area.zips), None, rng.choice(HOURS))
                places.append((None, loc_id))
        for org_id, loc_id in places:
            batch.roles.append(
                {
                    "id": self._take("role"),
                    "practitioner_id": lid,
                    "organization_id": org_id,
                    "location_id": loc_id,
                    "specialty_code": codes[0],
                    "accepting_new_patients": listing["accepting_new_patients"],
                    "telehealth": listing["telehealth"],
                }
            )
        self._participations(batch, lid, state)

    def listing(self, batch: Batch) -> None:
        area_index = self.rng.choices(range(len(self.areas)), weights=self.area_weights)[0]
        if self.rng.random() < 0.35:
            self.organization(batch, area_index)
        else:
            self.practitioner(batch, area_index)


# ---------------------------------------------------------------- database work


def delete_demo(conn: Connection) -> None:
    """Delete every demo listing and demo network with the rows that point at them (FK-safe order)."""
    demo_ids = select(Listing.id).where(Listing.is_demo.is_(True)).scalar_subquery()
    demo_networks = select(Network.id).where(Network.is_demo.is_(True)).scalar_subquery()
    demo_locations = select(Location.id).where(Location.listing_id.in_(demo_ids)).scalar_subquery()
    conn.execute(
        delete(Participation).where(
            or_(Participation.listing_id.in_(demo_ids), Participation.network_id.in_(demo_networks))
        )
    )
    conn.execute(
        delete(Role).where(
            or_(
                Role.practitioner_id.in_(demo_ids),
                Role.organization_id.in_(demo_ids),
                Role.location_id.in_(demo_locations),
            )
        )
    )
    for table in (Location, ListingSpecialty, Organization, Practitioner):
        conn.execute(delete(table).where(table.listing_id.in_(demo_ids)))
    conn.execute(delete(Listing).where(Listing.is_demo.is_(True)))
    conn.execute(delete(Network).where(Network.is_demo.is_(True)))


def _next_id(conn: Connection, column) -> int:
    return (conn.execute(select(func.max(column))).scalar() or 0) + 1


def _networks(rng: random.Random, start_id: int, taken: set[tuple[str, str]]) -> list[dict]:
    words = _words()
    plan_types = reference.plan_types()
    commercial = [(code, w) for code, w in COMMERCIAL_PLAN_TYPES if code in plan_types]
    payers = rng.sample(words["payer"], min(PAYER_COUNT, len(words["payer"])))
    specs: list[tuple[str, str]] = []  # (payer, plan type)
    for payer in payers:
        types: list[str] = []
        wanted = rng.randint(2, 4)
        while len(types) < wanted:
            code = _weighted(rng, commercial)
            if code not in types:
                types.append(code)
        specs += [(payer, code) for code in types]
    specs += [(payer, code) for payer, code in GOVERNMENT_PAYERS if code in plan_types]
    rows = []
    for payer, code in specs:
        display = plan_types[code]["display"]
        word = rng.choice([w for w in words["network_word"] if w not in display])
        name = f"{payer} {word} {display}"
        if (payer, name) in taken:
            continue
        taken.add((payer, name))
        rows.append(
            {"id": start_id + len(rows), "payer": payer, "name": name, "plan_type": code, "is_demo": True}
        )
    return rows


def _fix_npis(conn: Connection, batch: Batch, overflow: list[int]) -> None:
    """Give a fresh NPI to any generated listing whose NPI a non-demo listing already has."""
    while True:
        npis = [row["npi"] for row in batch.listings]
        taken: set[str] = set()
        for i in range(0, len(npis), 900):  # stay under SQLite's bound-parameter limit
            chunk = npis[i : i + 900]
            taken.update(conn.execute(select(Listing.npi).where(Listing.npi.in_(chunk))).scalars())
        if not taken:
            return
        for row in batch.listings:
            if row["npi"] in taken:
                row["npi"] = make_npi(overflow[0], individual=row["kind"] == "practitioner")
                overflow[0] += 1


def generate(
    engine: Engine,
    *,
    count: int = 3000,
    seed: int = 42,
    progress: Callable[[int], object] | None = None,
    batch_size: int = 2000,
    today: date | None = None,
) -> int:
    """Replace all demo data (rows with is_demo true: listings and networks) with `count` fictional
    listings; return count.

    Deterministic: the same seed, count and `today` give identical rows (ids included) in a fresh
    database, whatever the batch size. `progress(n)` is called after each committed batch with the
    number of listings that batch wrote. Verification dates fall within the 200 days before `today`.
    """
    if count < 0:
        raise ValueError("count must be zero or more")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    today = today or date.today()
    rng = random.Random(seed)
    areas()  # load the gazetteer before opening a write transaction
    with engine.connect() as conn:
        delete_demo(conn)
        taken = {(payer, name) for payer, name in conn.execute(select(Network.payer, Network.name))}
        networks = _networks(rng, _next_id(conn, Network.id), taken)
        if networks:
            conn.execute(insert(Network.__table__), networks)
        conn.commit()
        start = {
            "listing": _next_id(conn, Listing.id),
            "location": _next_id(conn, Location.id),
            "role": _next_id(conn, Role.id),
        }
        generator = _Generator(rng, today, start, networks)
        overflow = [NPI_OVERFLOW_START]
        written = 0
        while written < count:
            size = min(batch_size, count - written)
            batch = Batch()
            for _ in range(size):
                generator.listing(batch)
            _fix_npis(conn, batch, overflow)
            for table, rows in batch.tables():
                if rows:
                    conn.execute(insert(table), rows)
            conn.commit()
            written += size
            if progress is not None:
                progress(size)
    return count
