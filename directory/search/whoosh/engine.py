"""Evaluating a SearchQuery over listing tables and text matches: filters, facets, order, pages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from directory.geo import great_circle_mi
from directory.search.codebook import Codebook
from directory.search.contract import Hit, SearchResult
from directory.search.query import SearchQuery, by_place_alone
from directory.search.whoosh.arrays import expand, unique
from directory.search.whoosh.table import KIND_CODES, ListingTable
from directory.search.whoosh.text import TextHits

KIND_NAMES = {v: k for k, v in KIND_CODES.items()}
# A filter holding at most 1/SELECTIVE_SHARE of all rows is read from its per-code rows.
SELECTIVE_SHARE = 4


@dataclass
class Matches:
    """Every listing of one table that matches (positions, and rows when a place was given)."""

    table: ListingTable
    pos: np.ndarray
    rows: np.ndarray | None
    chord2: np.ndarray | None  # squared chord to the centre: orders as great-circle distance
    scores: np.ndarray
    facets: dict[str, dict]
    count: int  # listings matching: len(pos), unless pos holds only those that can make the page

    def primary(self, sort: str) -> np.ndarray:
        """The first sort key, smaller first (name order uses the table's precomputed rank)."""
        if sort == "distance":
            return self.chord2
        if sort == "relevance":
            return -self.scores
        return self.table.name_rank[self.pos]


def evaluate(
    table: ListingTable,
    query: SearchQuery,
    codebook: Codebook,
    text: TextHits | None,
    alive: np.ndarray | None = None,
    dead: np.ndarray | None = None,
) -> Matches:
    """All listings of `table` matching `query`; each once, at its nearest place. `alive` masks
    out the positions another table now answers for; `dead` lists them (else derived)."""
    if query.place is not None and query.sort == "distance" and by_place_alone(query):
        if alive is not None and dead is None:
            dead = np.flatnonzero(~alive)
        return _by_place_alone(table, query, codebook, alive, dead)
    rows = chord2 = only = None
    if query.place is not None:
        place = query.place
        only = _selective_filter(table, query, codebook)
        rows, chord2 = table.rows_within(place.lat, place.lon, place.radius_mi, only)
        held = None if text is None else text.rows_holding(table, rows)
        if held is not None:  # topic words tested on the rows, before their listings are read
            rows, chord2 = rows[held], chord2[held]
        pos = table.row_pos[rows]
    elif text is not None:
        pos = text.candidates(table)
    else:
        pos = np.arange(table.size, dtype=np.int32)

    keep = _filter(table, query, codebook, pos, alive, only[0] if only else None)
    if keep is not None:
        pos = pos[keep]
        if rows is not None:
            rows, chord2 = rows[keep], chord2[keep]

    # The text before the nearest place of each listing: a listing's words do not depend on the
    # place, and fewer rows are left to order.
    scores = np.zeros(len(pos))
    if text is not None and len(pos):
        matched, scores = text.score(table, pos)
        pos = pos[matched]
        if rows is not None:
            rows, chord2 = rows[matched], chord2[matched]

    if rows is not None:
        chosen = _once_each(table, pos, rows, chord2)
        pos, rows, chord2, scores = pos[chosen], rows[chosen], chord2[chosen], scores[chosen]

    facets = _facets(table, codebook, _vector(table, pos)) if query.facets else {}
    return Matches(table, pos, rows, chord2, scores, facets, len(pos))


def _once_each(table: ListingTable, pos, rows, chord2) -> np.ndarray | slice:
    """Which of these rows to keep: a listing with several places counts once, at its nearest."""
    multi = table.row_multi[rows]
    if not multi.any():
        return slice(None)
    single = np.flatnonzero(~multi)
    many = np.flatnonzero(multi)
    # Nearest first; at equal distance the lowest location id, as hydration used to choose.
    order = many[np.lexsort((table.row_loc[rows[many]], chord2[many], pos[many]))]
    first = np.ones(len(order), dtype=bool)
    first[1:] = pos[order][1:] != pos[order][:-1]
    return np.concatenate([single, order[first]])


def _by_place_alone(table: ListingTable, query: SearchQuery, codebook: Codebook, alive, dead) -> Matches:
    """A place and nothing else, nearest first: counts and facets add up the rollup of the blocks
    of places around (see `_home_vector`); only the nearest places are read for the page.

    The rollup counts each listing at its home place. A listing whose home is outside the radius
    but another place of it inside is found through its away rows, and a listing changed since the
    snapshot (not alive here) is taken back out of the rollup.
    """
    place = query.place
    places, chord2 = table.places_within(place.lat, place.lon, place.radius_mi)
    inside = np.zeros(len(table.place_lat), dtype=bool)
    inside[places] = True
    starts, ends = table.place_start[places], table.place_start[places + 1]
    # (Needles of the array's own type: numpy would otherwise copy the whole array to theirs.)
    away_rows = table.away_rows
    lo = np.searchsorted(away_rows, starts.astype(away_rows.dtype))
    hi = np.searchsorted(away_rows, ends.astype(away_rows.dtype))
    away = table.row_pos[table.away_rows[expand(lo, hi - lo)]]
    away = unique(away[~inside[table.home_place[away]]])
    vector = _home_vector(table, places)
    if alive is not None:
        away = away[alive[away]]
        vector -= _vector(table, dead[inside[table.home_place[dead]]])
    vector += _vector(table, away)
    facets = _facets(table, codebook, vector) if query.facets else {}

    wanted = query.offset + query.per_page
    order = _nearest(chord2, 4 * wanted + 64)
    every = len(places)
    lengths = ends - starts
    target = wanted
    while True:  # the nearest places holding `wanted` listings (and every place as near as the last)
        near2, enough = chord2[order], np.cumsum(lengths[order])
        k = min(int(np.searchsorted(enough, target)) + 1, len(order))
        k = int(np.searchsorted(near2, near2[k - 1], side="right")) if k else 0
        chosen_places = order[:k]
        rows = expand(starts[chosen_places], lengths[chosen_places])
        row_chord2 = np.repeat(near2[:k], lengths[chosen_places])
        pos = table.row_pos[rows]
        if alive is not None:
            keep = alive[pos]
            pos, rows, row_chord2 = pos[keep], rows[keep], row_chord2[keep]
        chosen = _once_each(table, pos, rows, row_chord2)
        pos, rows, row_chord2 = pos[chosen], rows[chosen], row_chord2[chosen]
        if len(pos) >= wanted or k == every:
            break
        if k == len(order):  # the nearest places taken were too few: order them all
            order = _nearest(chord2, every)
        target *= 4
    return Matches(table, pos, rows, row_chord2, np.zeros(len(pos)), facets, int(vector[0]))


def _nearest(chord2: np.ndarray, count: int) -> np.ndarray:
    """Indices of at least the `count` smallest of `chord2` (and every tie of the largest of them),
    nearest first; ties in index order, as a stable sort of them all orders them."""
    if count >= len(chord2):
        return np.argsort(chord2, kind="stable")
    cutoff = np.partition(chord2, count)[count]
    some = np.flatnonzero(chord2 <= cutoff)
    return some[np.argsort(chord2[some], kind="stable")]


def _home_vector(table: ListingTable, places: np.ndarray) -> np.ndarray:
    """The facet vector of the listings whose home is one of these places (ascending): the
    rollup of each block whose places are all here, plus the listings of the other places one by
    one (few when places hold many listings; where each place holds one or two, as with street
    points, this avoids a row of rollup per place)."""
    block = np.searchsorted(table.block_start, places, side="right") - 1
    first = np.ones(len(block), dtype=bool)
    first[1:] = block[1:] != block[:-1]
    ids = block[first]
    counts = np.diff(np.append(np.flatnonzero(first), len(block)))
    whole = counts == table.block_start[ids + 1] - table.block_start[ids]
    vector = table.block_rollup[ids[whole]].sum(axis=0, dtype=np.int64)
    rest = places[~np.repeat(whole, counts)]
    if len(rest):
        starts = table.place_start[rest]
        lengths = table.place_start[rest + 1] - starts
        pos = table.row_pos[expand(starts, lengths)]
        # unique: a listing with two locations at its home point has two rows there.
        vector += _vector(table, unique(pos[table.home_place[pos] == np.repeat(rest, lengths)]))
    return vector


def _vector(table: ListingTable, pos: np.ndarray) -> np.ndarray:
    return table.facet_counter.vector(pos)


def _selective_filter(table: ListingTable, query: SearchQuery, codebook: Codebook):
    """(facet, codes) of the any-of filter that keeps the fewest rows, when it keeps few enough
    that reading its per-code rows beats testing every row around; else None."""
    asked = []
    if query.specialties:
        asked.append(("specialties", codebook.encode("specialties", list(query.specialties))))
    if query.networks:
        asked.append(("networks", table.network_index(list(query.networks))))
    best = None
    for facet, codes in asked:
        indptr = table.row_postings[facet].indptr
        rows = sum(int(indptr[c + 1] - indptr[c]) for c in codes if c + 1 < len(indptr))
        if best is None or rows < best[0]:
            best = (rows, (facet, codes))
    if best is None or best[0] > len(table.row_pos) // SELECTIVE_SHARE:
        return None
    return best[1]


def _filter(table: ListingTable, query: SearchQuery, codebook: Codebook, pos, alive,
            read: str | None = None) -> np.ndarray | None:
    """Which of these positions pass the query's filters (None: every one). `read`: the facet
    whose per-code rows `pos` came from (`_selective_filter`), so already passed."""
    keep = None if alive is None else alive[pos]

    def narrow(held: np.ndarray) -> np.ndarray:
        return held if keep is None else keep & held

    if query.kind is not None:
        keep = narrow(table.kinds[pos] == KIND_CODES[query.kind])
    if query.accepting:
        keep = narrow(table.accepting[pos])
    if query.telehealth:
        keep = narrow(table.telehealth[pos])
    tag_filters = (
        ("specialties", table.specialty_set, lambda: codebook.encode("specialties", list(query.specialties)),
         query.specialties),
        ("networks", table.network_set, lambda: table.network_index(list(query.networks)), query.networks),
        ("languages", table.language_set, lambda: codebook.encode("languages", list(query.languages)),
         query.languages),
        ("services", table.service_set, lambda: codebook.encode("services", list(query.services)), query.services),
    )
    for facet, bits, wanted, asked in tag_filters:
        if asked and facet != read:
            codes = wanted()
            idx = np.arange(len(pos)) if keep is None else np.flatnonzero(keep)
            sub = np.zeros(len(pos), dtype=bool)
            if codes and len(idx):
                sub[idx] = bits.any_of(pos[idx], codes)
            keep = sub
    return keep


def _facets(table: ListingTable, codebook: Codebook, vector: np.ndarray) -> dict[str, dict]:
    """Facet counts from a facet vector (see whoosh.facets)."""
    listings, organizations, practitioners, accepting, *codes = vector.tolist()
    width = table.specialty_bits.shape[1] * 64
    specialty, network = codes[: len(codebook.specialties)], codes[width : width + len(table.network_codes)]
    kinds = (organizations, practitioners)
    return {
        "specialty": {code: n for code, n in zip(codebook.specialties, specialty, strict=True) if n},
        "network": {key: n for key, n in zip(table.network_keys, network, strict=True) if n},
        "kind": {KIND_NAMES[i]: kinds[i] for i in range(2) if kinds[i]},
        "accepting": {"true": accepting, "false": listings - accepting},
    }


def _leaders(part: Matches, sort: str, wanted: int) -> np.ndarray:
    """Indices into `part` of the only entries that can reach the first `wanted` places: those
    before the cut-off value, and of its ties (many listings share a place or a score) the first
    by name, as the table's name rank orders them (the (name, id) order `combine` sorts by)."""
    primary = part.primary(sort)
    if wanted >= len(primary):
        return np.arange(len(primary))
    cutoff = np.partition(primary, wanted - 1)[wanted - 1]
    before = np.flatnonzero(primary < cutoff)
    ties = np.flatnonzero(primary == cutoff)
    room = wanted - len(before)
    if len(ties) > room:
        ranks = part.table.name_rank[part.pos[ties]]
        ties = ties[np.argpartition(ranks, room - 1)[:room]]
    return np.concatenate([before, ties])


def combine(parts: list[Matches], query: SearchQuery) -> SearchResult:
    """Merge the matches of several tables, order them as `query.sort` says, and cut one page.

    Each table contributes only its own leaders, so the exact (key, name, id) sort runs on a
    few rows, however many matched.
    """
    wanted = query.offset + query.per_page
    total = sum(p.count for p in parts)
    chosen = [(p, _leaders(p, query.sort, wanted)) for p in parts]
    lids = np.concatenate([p.table.lids[p.pos[i]] for p, i in chosen])
    name_keys = np.concatenate([p.table.name_keys[p.pos[i]] for p, i in chosen])
    scores = np.concatenate([p.scores[i] for p, i in chosen])
    keys = [lids, name_keys]
    if query.sort == "distance":
        keys.append(np.concatenate([p.chord2[i] for p, i in chosen]))
    elif query.sort == "relevance":
        keys.append(-scores)
    order = np.lexsort(keys)[query.offset : wanted]

    place = query.place
    if place is not None and len(order):
        rows = [(p.table, p.rows[i]) for p, i in chosen]
        lat = np.concatenate([t.row_lat[r] for t, r in rows])[order]
        lon = np.concatenate([t.row_lon[r] for t, r in rows])[order]
        miles = great_circle_mi(place.lat, place.lon, lat, lon).tolist()
        locations = np.concatenate([t.row_loc[r] for t, r in rows])[order].tolist()
        hits = [Hit(lid, mi, score, loc or None) for lid, mi, score, loc
                in zip(lids[order].tolist(), miles, scores[order].tolist(), locations, strict=True)]
    else:
        hits = [Hit(lid, None, score) for lid, score in zip(lids[order].tolist(), scores[order].tolist(),
                                                           strict=True)]
    return SearchResult(total, hits, _merge_facets([p.facets for p in parts]))


def _merge_facets(many: list[dict[str, dict]]) -> dict[str, dict[str, int]]:
    """The counts of several tables added up, each facet's most frequent first (then by key)."""
    if len(many) == 1:
        return {name: dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
                for name, counts in many[0].items()}
    merged: dict[str, dict[str, int]] = {}
    for facets in many:
        for name, counts in facets.items():
            target = merged.setdefault(name, {})
            for key, n in counts.items():
                target[key] = target.get(key, 0) + int(n)
    for name, counts in merged.items():
        merged[name] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return merged
