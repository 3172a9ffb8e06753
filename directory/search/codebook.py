"""Codebooks: stable small-integer codes for the reference ids (specialties, languages, services,
concepts) that both backends store as bits or arrays."""

from __future__ import annotations

from dataclasses import dataclass

from directory import reference


@dataclass(frozen=True)
class Codebook:
    """Stable small-integer codes for specialty, language and service ids."""

    specialties: tuple[str, ...]
    languages: tuple[str, ...]
    services: tuple[str, ...]
    concepts: tuple[str, ...]

    @classmethod
    def current(cls) -> Codebook:
        vocabulary = reference.vocabulary()
        return cls(
            tuple(reference.taxonomy()),
            tuple(reference.languages()),
            tuple(c.id for c in vocabulary.services()),
            tuple(c.id for c in vocabulary.concepts),
        )

    def encode(self, facet: str, values: list[str]) -> list[int]:
        lookup = getattr(self, "_index_" + facet, None)
        if lookup is None:
            lookup = {v: i for i, v in enumerate(getattr(self, facet))}
            object.__setattr__(self, "_index_" + facet, lookup)
        return [lookup[v] for v in values if v in lookup]
