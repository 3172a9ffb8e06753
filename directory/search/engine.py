"""Evaluating a SearchQuery over listing tables and text matches: filters, facets, order, pages."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from directory.search.query import SearchQuery
from directory.search.table import KIND_CODES, Codebook, ListingTable

KIND_NAMES = {v: k for k, v in KIND_CODES.items()}


@dataclass
class Hit:
    lid: int
    distance_mi: float | None
    score: float


@dataclass
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class Matches:
    """Every listing of one table that matches, before ordering."""

    lids: np.ndarray
    miles: np.ndarray | None
    scores: np.ndarray
    name_keys: np.ndarray
    facets: dict[str, dict]


def evaluate(
    table: ListingTable,
    query: SearchQuery,
    codebook: Codebook,
    text: tuple[np.ndarray, np.ndarray] | None,
    alive: np.ndarray | None = None,
) -> Matches:
    """All listings of `table` matching `query` (text hits given as sorted lids and scores)."""
    text_pos = text_scores = None
    if text is not None:
        text_pos = table.positions_of(text[0])
        found = text_pos >= 0
        text_pos, text_scores = text_pos[found], text[1][found]

    miles = None
    if query.place is not None:
        rows, miles = table.rows_within(query.place.lat, query.place.lon, query.place.radius_mi)
        pos = table.row_pos[rows]
    elif text_pos is not None:
        pos = text_pos
    else:
        pos = np.arange(table.size, dtype=np.int32)

    keep = _filter(table, query, codebook, pos, alive)
    if text_pos is not None and query.place is not None:
        keep &= np.isin(pos, text_pos)
    pos = pos[keep]
    if miles is not None:
        miles = miles[keep]
        # A listing with several places counts once, at its nearest place.
        order = np.lexsort((miles, pos))
        pos, miles = pos[order], miles[order]
        first = np.ones(len(pos), dtype=bool)
        first[1:] = pos[1:] != pos[:-1]
        pos, miles = pos[first], miles[first]

    scores = np.zeros(len(pos))
    if text_pos is not None and len(pos):
        scores = text_scores[np.searchsorted(text_pos, pos)]

    facets = _facets(table, codebook, pos) if query.facets else {}
    return Matches(table.lids[pos], miles, scores, table.name_keys[pos], facets)


def _filter(table: ListingTable, query: SearchQuery, codebook: Codebook, pos, alive) -> np.ndarray:
    keep = np.ones(len(pos), dtype=bool) if alive is None else alive[pos].copy()
    if query.kind is not None:
        keep &= table.kinds[pos] == KIND_CODES[query.kind]
    if query.accepting:
        keep &= table.accepting[pos]
    if query.telehealth:
        keep &= table.telehealth[pos]
    tag_filters = (
        (table.specialties, codebook.encode("specialties", list(query.specialties)), query.specialties),
        (table.networks, list(query.networks), query.networks),
        (table.languages, codebook.encode("languages", list(query.languages)), query.languages),
        (table.services, codebook.encode("services", list(query.services)), query.services),
    )
    for ragged, wanted, asked in tag_filters:
        if asked:
            idx = np.flatnonzero(keep)
            sub = np.zeros(len(keep), dtype=bool)
            if wanted and len(idx):
                sub[idx] = ragged.any_of(pos[idx], wanted)
            keep = sub
    return keep


def _facets(table: ListingTable, codebook: Codebook, pos: np.ndarray) -> dict[str, dict]:
    kinds = np.bincount(table.kinds[pos], minlength=2)
    accepting = int(np.count_nonzero(table.accepting[pos]))
    return {
        "specialty": {
            codebook.specialties[i]: n for i, n in table.specialties.counts(pos).items()
        },
        "network": {str(i): n for i, n in table.networks.counts(pos).items()},
        "kind": {KIND_NAMES[i]: int(kinds[i]) for i in range(2) if kinds[i]},
        "accepting": {"true": accepting, "false": len(pos) - accepting},
    }


def combine(parts: list[Matches], query: SearchQuery) -> SearchResult:
    """Merge the matches of several tables, order them as `query.sort` says, and cut one page."""
    lids = np.concatenate([p.lids for p in parts])
    scores = np.concatenate([p.scores for p in parts])
    name_keys = np.concatenate([p.name_keys for p in parts])
    miles = np.concatenate([p.miles for p in parts]) if query.place is not None else None
    total = len(lids)

    primary = None
    if query.sort == "distance":
        primary = miles
    elif query.sort == "relevance":
        primary = -scores if miles is None else np.round(-scores, 9)
    wanted = query.offset + query.per_page
    subset = np.arange(total)
    if primary is not None and wanted < total:
        # Only the first `wanted` can be shown: partition, keeping every tie of the cut-off value.
        cutoff = np.partition(primary, wanted - 1)[wanted - 1]
        subset = np.flatnonzero(primary <= cutoff)
    keys = [lids[subset], name_keys[subset]]
    if primary is not None:
        keys.append(primary[subset])
    order = subset[np.lexsort(keys)][query.offset : wanted]

    hits = [
        Hit(
            int(lids[i]),
            float(miles[i]) if miles is not None else None,
            float(scores[i]),
        )
        for i in order
    ]
    return SearchResult(total, hits, _merge_facets([p.facets for p in parts]))


def _merge_facets(many: list[dict[str, dict]]) -> dict[str, dict[str, int]]:
    merged: dict[str, dict[str, int]] = {}
    for facets in many:
        for name, counts in facets.items():
            target = merged.setdefault(name, {})
            for key, n in counts.items():
                target[key] = target.get(key, 0) + int(n)
    for name, counts in merged.items():
        merged[name] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return merged
