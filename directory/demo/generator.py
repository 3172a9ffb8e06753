"""The per-run generator: ids, shared listing and location fields, and the pick of each listing's kind."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from directory import reference
from directory.demo.networks import _NetworkMixin
from directory.demo.organizations import _OrganizationMixin
from directory.demo.practitioners import _PractitionerMixin
from directory.demo.vocabulary import (
    AREA_CODES,
    AREA_PAYERS,
    DEFAULT_AREA_CODES,
    LANGUAGE_WEIGHTS,
    NPI_SERIAL_START,
    VERIFICATION_METHODS,
    VERIFIERS,
    AreaState,
    Batch,
    _address,
    _names,
    _phone,
    _service_ids,
    _slug,
    _unique,
    _weighted,
    _words,
    areas,
)
from directory.geo import ZipPlace
from directory.npi import make_npi


class _Generator(_OrganizationMixin, _PractitionerMixin, _NetworkMixin):
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

    def listing(self, batch: Batch) -> None:
        area_index = self.rng.choices(range(len(self.areas)), weights=self.area_weights)[0]
        if self.rng.random() < 0.35:
            self.organization(batch, area_index)
        else:
            self.practitioner(batch, area_index)
