"""The PostgreSQL backend's documents turned into rows: terms, tags, topic bits, rollup tags and
counts, in the column order of `tables.COLUMNS`."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np

from directory.search.codebook import Codebook
from directory.search.documents import ListingDoc
from directory.search.ordering import area_key, name_key, unit_vectors
from directory.search.postgres.cells import home_cells
from directory.search.text import FIELD_WEIGHTS, analyzer

TEXT_FIELDS = tuple(FIELD_WEIGHTS)  # name, products, place
TOPIC_FACETS = ("concepts", "specialties")
MASK_BITS = 63  # topic codes numbered below this also have a bit in cmask / smask (a signed bigint)

PointId = Callable[[float, float], int]


_ANALYZER = analyzer()


def terms_of(value: str) -> list[str]:
    """The index terms of a text field: exactly what the Whoosh backend indexes."""
    return list(dict.fromkeys(token.text for token in _ANALYZER(value, mode="index")))


def doc_terms(doc: ListingDoc) -> dict[str, list[str]]:
    texts = {"name": doc.name_text, "products": doc.products_text, "place": doc.place_text}
    return {field: terms_of(texts[field]) for field in TEXT_FIELDS}


def tsvector_literal(terms: Iterable[str]) -> str:
    """A tsvector of these exact lexemes (no further normalization by PostgreSQL)."""
    quoted = ("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in terms)
    return " ".join(quoted)


def doc_tags(doc: ListingDoc) -> tuple[list[str], list[int], list[str], list[str], list[str]]:
    """Specialties, networks, languages, services and concepts, each once."""
    return (list(dict.fromkeys(doc.specialties)), sorted(set(doc.networks)), sorted(set(doc.languages)),
            sorted(set(doc.services)), list(dict.fromkeys(doc.concepts)))


@functools.cache
def codebook() -> Codebook:
    return Codebook.current()


def specialty_counts(masks: Iterable[int] | None) -> dict[str, int]:
    """Listings per specialty code, from their specialty bits (smask). Every specialty code of
    the vocabulary has a bit (`PostgresSearcher` refuses a vocabulary of more than MASK_BITS)."""
    values = np.fromiter(masks or (), dtype=np.int64)
    if not len(values):
        return {}
    bits = np.unpackbits(values.astype("<i8").view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
    counts = bits.sum(axis=0)
    names = codebook().specialties
    return {names[i]: int(n) for i, n in enumerate(counts.tolist()) if n and i < len(names)}


def topic_mask(facet: str, codes: Iterable[str]) -> int:
    """The bits of these concept or specialty codes (codes numbered MASK_BITS or more have none)."""
    return sum(1 << i for i in set(codebook().encode(facet, list(codes))) if i < MASK_BITS)


def doc_rows(doc: ListingDoc, terms: dict[str, list[str]], point_id: PointId) -> list[tuple]:
    tsv = [tsvector_literal(terms[f]) for f in TEXT_FIELDS]
    common = (doc.digest, doc.kind, name_key(doc.name), doc.accepting, doc.telehealth, len(doc.places) > 1)
    tags = doc_tags(doc)
    masks = (topic_mask("concepts", doc.concepts), topic_mask("specialties", doc.specialties))
    pids = [point_id(lat, lon) for lat, lon in doc.places]
    locations = doc.place_ids or [0] * len(doc.places)
    if not doc.places:
        return []
    lats, lons = np.array([p[0] for p in doc.places]), np.array([p[1] for p in doc.places])
    keys = area_key(lats, lons).tolist()
    points = [cube_literal(xyz) for xyz in unit_vectors(lats, lons)]
    home = (lats[0], lons[0], points[0])
    return [(doc.lid, n, *common, lat, lon, loc, pid, *home, key, pt, *masks, *tags, *tsv)
            for n, ((lat, lon), loc, pid, key, pt) in enumerate(zip(doc.places, locations, pids, keys, points,
                                                                    strict=True))]


def rollup_tags(kind: str, accepting: bool, specialties: Iterable[str], networks: Iterable[int]) -> list[str]:
    """What one listing adds to its home place's `search_rollup` rows: '*' (every listing), 'o'
    (an organization), 'a' (accepting new patients), 's:<specialty code>', 'n:<network id>'."""
    tags = ["*"]
    if kind == "organization":
        tags.append("o")
    if accepting:
        tags.append("a")
    tags += [f"s:{code}" for code in dict.fromkeys(specialties)]
    tags += [f"n:{network}" for network in sorted(set(networks))]
    return tags


def add_doc_rollup(rollup: Counter, doc: ListingDoc) -> None:
    """Add what one live listing contributes to `search_rollup`: to the fine and the coarse cell
    of its first place (see `cells`)."""
    if doc.places:
        for cell in home_cells(*doc.places[0]):
            for tag in rollup_tags(doc.kind, doc.accepting, doc.specialties, doc.networks):
                rollup[(cell, tag)] += 1


def point_row(pid: int, lat: float, lon: float) -> tuple:
    return (pid, lat, lon, cube_literal(unit_vectors(np.array([lat]), np.array([lon]))[0]))


def cube_literal(point) -> str:
    """A cube value for a point, written so PostgreSQL reads back the very same doubles."""
    return "(" + ", ".join(repr(float(v)) for v in point) + ")"


def add_doc_counts(counts: Counter, doc: ListingDoc, terms: dict[str, list[str]]) -> None:
    """Add the counts one live listing contributes to `search_count`."""
    counts[("docs", "")] += 1
    for field in TEXT_FIELDS:
        counts.update((field, term) for term in terms[field])
    counts.update(("concepts", c) for c in set(doc.concepts))
    counts.update(("specialties", c) for c in set(doc.specialties))


def rows_and_counts(docs: Iterable[ListingDoc], counts: Counter, rollup: Counter,
                    point_id: PointId) -> list[tuple]:
    """The rows of these documents; their counts are added to `counts` and `rollup`."""
    rows = []
    for doc in docs:
        terms = doc_terms(doc)
        rows.extend(doc_rows(doc, terms, point_id))
        add_doc_counts(counts, doc, terms)
        add_doc_rollup(rollup, doc)
    return rows
