"""Reference data written for this project (seed_data/): taxonomy, vocabulary, plan types, languages."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

SEED_DATA = Path(__file__).resolve().parent.parent / "seed_data"
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Concept:
    """A condition, therapy or service, with the words people use for it."""

    id: str
    kind: str
    label: str
    synonyms: tuple[str, ...]
    specialties: tuple[str, ...] = ()
    services: tuple[str, ...] = ()


@dataclass(frozen=True)
class Vocabulary:
    concepts: tuple[Concept, ...]
    by_id: dict[str, Concept] = field(default_factory=dict)

    def for_listing(self, specialty_codes: list[str], services: list[str]) -> list[Concept]:
        """Concepts a listing is relevant to: its services, and conditions its specialties treat."""
        codes, offered = set(specialty_codes), set(services)
        found = []
        for concept in self.concepts:
            if concept.id in offered or codes.intersection(concept.specialties):
                found.append(concept)
        return found

    def services(self) -> list[Concept]:
        return [c for c in self.concepts if c.kind == "service"]


def _read_csv(name: str) -> list[dict[str, str]]:
    with open(SEED_DATA / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@lru_cache(maxsize=1)
def taxonomy() -> dict[str, dict[str, str]]:
    """NUCC code -> {code, display, group, section}, in file order."""
    return {row["code"]: row for row in _read_csv("taxonomy.csv")}


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    with open(SEED_DATA / "vocabulary.json", encoding="utf-8") as handle:
        raw = json.load(handle)
    concepts = tuple(
        Concept(
            id=c["id"],
            kind=c["kind"],
            label=c["label"],
            synonyms=tuple(c.get("synonyms", ())),
            specialties=tuple(c.get("specialties", ())),
            services=tuple(c.get("services", ())),
        )
        for c in raw["concepts"]
    )
    return Vocabulary(concepts, {c.id: c for c in concepts})


@lru_cache(maxsize=1)
def plan_types() -> dict[str, dict[str, str]]:
    return {row["code"]: row for row in _read_csv("plan_types.csv")}


@lru_cache(maxsize=1)
def languages() -> dict[str, str]:
    return {row["code"]: row["display"] for row in _read_csv("languages.csv")}


def words(text: str) -> list[str]:
    """Lower-case alphanumeric words of `text`; everything else separates words."""
    return _WORD.findall(text.lower())
