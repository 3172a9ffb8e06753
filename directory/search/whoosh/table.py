"""Compact in-memory arrays of every searchable listing: places, flags and filter ids.

Geography and structured filters are answered here with numpy (a lat-sorted band, then exact
great-circle miles for the candidates); Whoosh answers only the text part. A table is derived from
the database like the index, saved beside it, and loads in a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from directory.geo import EARTH_RADIUS_MI, great_circle_mi
from directory.search.codebook import Codebook
from directory.search.contract import SnapshotFormatError
from directory.search.documents import ListingDoc
from directory.search.ordering import BANDS, NAME_KEY_BYTES, area_key, area_ranges, band_of, name_key, unit_vectors
from directory.search.whoosh.arrays import Bits, Ragged, expand, rows_by_code, unique, unique_first
from directory.search.whoosh.facets import FacetCounter

FORMAT = 8  # bump when the arrays or the text index change shape: old snapshots need a reindex
KIND_CODES = {"organization": 0, "practitioner": 1}
# Rows are sorted by latitude band (a tenth of a degree, about 7 miles), then longitude
# (`ordering.area_key`).
# Places are grouped in blocks of neighbours in row order (within one band) holding about this many
# listings at home; a place holding as many alone is a block of its own. A search by place alone
# adds up the rollup of the blocks wholly in its radius and counts the others' listings one by one.
BLOCK_LISTINGS = 32


def rollup(arrays: dict[str, np.ndarray], home: np.ndarray, places: int) -> np.ndarray:
    """(places x facet_vector) int32: the facet vector of the listings whose home is each place
    (`home`: each listing's place, or the block of its place)."""
    home = home.astype(np.int64)
    kinds = arrays["kinds"]
    columns = [np.bincount(home, minlength=places), np.bincount(home[kinds == 0], minlength=places),
               np.bincount(home[kinds == 1], minlength=places),
               np.bincount(home[arrays["accepting"]], minlength=places)]
    for words in (arrays["specialty_bits"], arrays["network_bits"]):
        owners, codes = Bits(words).pairs()
        size = 64 * words.shape[1]
        flat = np.bincount(home[owners] * size + codes, minlength=places * size)
        columns.extend(flat.reshape(places, size).T)
    return np.column_stack(columns).astype(np.int32) if places else np.zeros((0, len(columns)), np.int32)


def blocks(home_count: np.ndarray, band: np.ndarray) -> np.ndarray:
    """Block starts (place indices, then the number of places) of places in row order: a block
    stays within one band and closes once it holds BLOCK_LISTINGS listings at home; a place
    holding that many alone is a block of its own."""
    n = len(home_count)
    if not n:
        return np.zeros(1, dtype=np.int64)
    big = home_count >= BLOCK_LISTINGS
    new_band = np.ones(n, dtype=bool)
    new_band[1:] = band[1:] != band[:-1]
    band_id = np.cumsum(new_band) - 1
    total = np.cumsum(home_count) - home_count  # listings before each place
    before = total - total[np.flatnonzero(new_band)][band_id]  # ... within its band
    fill = before // BLOCK_LISTINGS
    new = new_band | big
    new[1:] |= (fill[1:] != fill[:-1]) | big[:-1]
    return np.append(np.flatnonzero(new), n).astype(np.int64)


class ListingTable:
    """Arrays over n listings (positions 0..n-1) and their m places (rows).

    Rows are sorted by latitude band (BANDS_PER_DEGREE), then longitude, so a bounding box is a
    few contiguous slices; radius tests use chord lengths (no trigonometry per row) and exact
    great-circle miles are computed only for the rows shown. Places (distinct points) are grouped
    in blocks (BLOCK_LISTINGS) with the facet vector of each block's listings.
    """

    FIELDS = ("lids", "kinds", "accepting", "telehealth", "name_keys", "network_codes",
              "specialty_bits", "language_bits", "service_bits", "concept_bits", "network_bits",
              "row_lat", "row_lon", "row_pos", "row_loc", "row_multi", "name_rank",
              "place_start", "place_lat", "place_lon", "place_xyz", "place_band_start",
              "specialty_rows_indptr", "specialty_rows", "network_rows_indptr", "network_rows",
              "home_place", "away_rows", "block_start", "block_rollup",
              "concept_counts", "specialty_counts")
    # Lists of codes per listing: needed to build and merge tables, not to search (bit sets do
    # that), so a saved snapshot leaves them out.
    RAGGED = ("specialties", "networks")

    def __init__(self, arrays: dict[str, np.ndarray]):
        for name in self.FIELDS:
            setattr(self, name, arrays[name])
        for name in self.RAGGED:
            built = name + "_indptr" in arrays
            setattr(self, name, Ragged(arrays[name + "_indptr"], arrays[name + "_values"]) if built else None)
        self.specialty_set = Bits(self.specialty_bits)
        self.language_set = Bits(self.language_bits)
        self.service_set = Bits(self.service_bits)
        self.concept_set = Bits(self.concept_bits)
        self.topic_sets = {"concepts": self.concept_set, "specialties": self.specialty_set}
        self.topic_counts = {"concepts": self.concept_counts, "specialties": self.specialty_counts}
        self.network_set = Bits(self.network_bits)
        self.facet_counter = FacetCounter(self.kinds, self.accepting, self.specialty_set, self.network_set)
        # Per code, the sorted rows whose listing holds it: a selective filter reads only its rows.
        self.row_postings = {
            "specialties": Ragged(self.specialty_rows_indptr, self.specialty_rows),
            "networks": Ragged(self.network_rows_indptr, self.network_rows),
        }
        # Each place's band and longitude as one ascending number (band x BAND_KEY_SPAN + longitude
        # + 180), so that a box's slices of every band are found by two vectorized binary searches.
        # Rounding is monotonic: no place inside a box falls outside its bounds (one just outside
        # may come in; the radius test decides).
        self.place_key = area_key(self.place_lat, self.place_lon)
        self._pos_of_lid: np.ndarray | tuple[np.ndarray, np.ndarray] | None = None  # see positions_of
        self._row_topic_sets: dict[str, Bits] = {}
        self.network_keys = [str(code) for code in self.network_codes.tolist()]  # as facets name them

    @property
    def size(self) -> int:
        return len(self.lids)

    @classmethod
    def build(cls, docs: list[ListingDoc], codebook: Codebook) -> ListingTable:
        docs = sorted(docs, key=lambda d: d.lid)
        n = len(docs)
        arrays = {
            "lids": np.fromiter((d.lid for d in docs), dtype=np.int64, count=n),
            "kinds": np.fromiter((KIND_CODES[d.kind] for d in docs), dtype=np.int8, count=n),
            "accepting": np.fromiter((d.accepting for d in docs), dtype=bool, count=n),
            "telehealth": np.fromiter((d.telehealth for d in docs), dtype=bool, count=n),
            "name_keys": np.array([name_key(d.name) for d in docs], dtype=f"S{NAME_KEY_BYTES}"),
            "row_pos": np.fromiter((i for i, d in enumerate(docs) for _ in d.places), dtype=np.int32),
            "row_lat": np.fromiter((p[0] for d in docs for p in d.places), dtype=np.float64),
            "row_lon": np.fromiter((p[1] for d in docs for p in d.places), dtype=np.float64),
            # The location shown at each row (0: not known).
            "row_loc": np.fromiter((loc for d in docs for loc in (d.place_ids or [0] * len(d.places))),
                                   dtype=np.int64),
        }
        specialties = [codebook.encode("specialties", d.specialties) for d in docs]
        networks = [d.networks for d in docs]
        for name, lists in (("specialties", specialties), ("networks", networks)):
            ragged = Ragged.from_lists(lists)
            arrays[name + "_indptr"], arrays[name + "_values"] = ragged.indptr, ragged.values
        arrays["specialty_bits"] = Bits.from_lists(specialties, len(codebook.specialties)).words
        arrays["language_bits"] = Bits.from_lists(
            [codebook.encode("languages", d.languages) for d in docs], len(codebook.languages)).words
        arrays["service_bits"] = Bits.from_lists(
            [codebook.encode("services", d.services) for d in docs], len(codebook.services)).words
        arrays["concept_bits"] = Bits.from_lists(
            [codebook.encode("concepts", d.concepts) for d in docs], len(codebook.concepts)).words
        return cls(cls._finish(arrays))

    @staticmethod
    def _finish(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Order rows by (latitude band, longitude) and listings by their first row, so that the
        listings of one area sit together in memory; derive places, blocks, network bits,
        per-code rows, ranks and vectors."""
        lat, lon, pos = arrays["row_lat"], arrays["row_lon"], arrays["row_pos"]
        cells = band_of(lat)
        order = np.lexsort((lat, lon, cells))
        lat, lon, pos, cells = lat[order], lon[order], pos[order], cells[order]
        arrays["row_loc"] = arrays["row_loc"][order]
        n = len(arrays["lids"])
        first_row = np.full(n, len(pos), dtype=np.int64)
        np.minimum.at(first_row, pos, np.arange(len(pos)))
        listing_order = np.argsort(first_row, kind="stable")
        new_pos = np.empty(n, dtype=np.int32)
        new_pos[listing_order] = np.arange(n, dtype=np.int32)
        for name in ("lids", "kinds", "accepting", "telehealth", "name_keys",
                     "specialty_bits", "language_bits", "service_bits", "concept_bits"):
            arrays[name] = arrays[name][listing_order]
        for name in ListingTable.RAGGED:
            ragged = Ragged(arrays[name + "_indptr"], arrays[name + "_values"])
            values, _ = ragged.gather(listing_order)
            lengths = np.diff(ragged.indptr)[listing_order]
            indptr = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(lengths, out=indptr[1:])
            arrays[name + "_indptr"], arrays[name + "_values"] = indptr, values.astype(np.int32)
        arrays["row_lat"], arrays["row_lon"], arrays["row_pos"] = lat, lon, new_pos[pos]
        # Rows at the same point (most listings sit at a ZIP centroid) are adjacent: one place.
        new_place = np.ones(len(lat), dtype=bool)
        new_place[1:] = (lat[1:] != lat[:-1]) | (lon[1:] != lon[:-1])
        starts = np.flatnonzero(new_place)
        arrays["place_start"] = np.append(starts, len(lat)).astype(np.int64)
        arrays["place_lat"], arrays["place_lon"] = lat[starts], lon[starts]
        arrays["place_xyz"] = unit_vectors(lat[starts], lon[starts])
        arrays["place_band_start"] = np.searchsorted(cells[starts], np.arange(BANDS + 1))
        per_listing = np.bincount(arrays["row_pos"], minlength=n)
        arrays["row_multi"] = per_listing[arrays["row_pos"]] > 1
        # A listing's home is the place of its first row; its other rows are "away" rows.
        row_place = np.repeat(np.arange(len(starts), dtype=np.int32), np.diff(arrays["place_start"]))
        arrays["home_place"] = row_place[first_row[listing_order]] if n else np.empty(0, dtype=np.int32)
        arrays["away_rows"] = np.flatnonzero(first_row[pos] != np.arange(len(pos))).astype(np.int32)

        codes = unique(arrays["networks_values"]).astype(np.int64)
        indptr = arrays["networks_indptr"]
        dense = np.searchsorted(codes, arrays["networks_values"])
        owners = np.repeat(np.arange(n), np.diff(indptr))
        arrays["network_codes"] = codes
        arrays["network_bits"] = Bits.from_flat(owners, dense, n, len(codes)).words
        specialties = Ragged(arrays["specialties_indptr"], arrays["specialties_values"])
        networks = Ragged(indptr, dense.astype(np.int32))
        for name, ragged in (("specialty_rows", specialties), ("network_rows", networks)):
            arrays[name + "_indptr"], arrays[name] = rows_by_code(ragged, arrays["row_pos"])
        home_count = np.bincount(arrays["home_place"], minlength=len(starts))
        arrays["block_start"] = blocks(home_count, cells[starts])
        block_of_place = np.repeat(np.arange(len(arrays["block_start"]) - 1), np.diff(arrays["block_start"]))
        arrays["block_rollup"] = rollup(arrays, block_of_place[arrays["home_place"]], len(arrays["block_start"]) - 1)
        everyone = np.arange(n)
        arrays["concept_counts"] = Bits(arrays["concept_bits"]).counts(everyone)
        arrays["specialty_counts"] = Bits(arrays["specialty_bits"]).counts(everyone)
        by_name = np.lexsort((arrays["lids"], arrays["name_keys"]))
        arrays["name_rank"] = np.empty(n, dtype=np.int32)
        arrays["name_rank"][by_name] = np.arange(n, dtype=np.int32)
        return arrays

    @classmethod
    def concat(cls, tables: list[ListingTable]) -> ListingTable:
        """One table from several built ones (the reindex builds a table per batch)."""
        arrays: dict[str, np.ndarray] = {}
        offsets = np.cumsum([0] + [t.size for t in tables])
        for name in ("lids", "kinds", "accepting", "telehealth", "name_keys", "specialty_bits",
                     "language_bits", "service_bits", "concept_bits", "row_lat", "row_lon", "row_loc"):
            arrays[name] = np.concatenate([getattr(t, name) for t in tables])
        arrays["row_pos"] = np.concatenate(
            [t.row_pos + off for t, off in zip(tables, offsets, strict=False)]).astype(np.int32)
        for name in cls.RAGGED:
            parts = [getattr(t, name) for t in tables]
            value_offsets = np.cumsum([0] + [p.indptr[-1] for p in parts])
            arrays[name + "_indptr"] = np.concatenate(
                [np.zeros(1, dtype=np.int64)]
                + [p.indptr[1:] + off for p, off in zip(parts, value_offsets, strict=False)]
            )
            arrays[name + "_values"] = np.concatenate([p.values for p in parts]).astype(np.int32)
        return cls(cls._finish(arrays))

    @classmethod
    def empty(cls, codebook: Codebook) -> ListingTable:
        return cls.build([], codebook)

    def save(self, path: Path, **meta: int) -> None:
        arrays = {name: getattr(self, name) for name in self.FIELDS}
        arrays.update({"meta_" + k: np.array(v) for k, v in {**meta, "format": FORMAT}.items()})
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)  # atomic: readers see the old or the new snapshot, never half of one

    @classmethod
    def load(cls, path: Path) -> tuple[ListingTable, dict[str, int]]:
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
        meta = {k[5:]: int(v) for k, v in arrays.items() if k.startswith("meta_")}
        if meta.get("format") != FORMAT:
            raise SnapshotFormatError(
                f"the search index in {path.parent} was built by another version "
                f"(format {meta.get('format')}, this code reads {FORMAT}): run `flask --app wsgi reindex`"
            )
        return cls(arrays), meta

    def positions_of(self, lids: np.ndarray) -> np.ndarray:
        """Positions of these listing ids; -1 for ids not in this table. Through a map of every id
        up to the largest, made at first use; a table of few listings among large ids (the overlay
        of recent changes, rebuilt at every change) searches its sorted ids instead."""
        lids = np.asarray(lids, dtype=np.int64)
        if self._pos_of_lid is None:
            top = int(self.lids.max()) + 1 if self.size else 0
            if top <= 8 * self.size + 4096:
                pos = np.full(top, -1, dtype=np.int32)
                pos[self.lids] = np.arange(self.size, dtype=np.int32)
                self._pos_of_lid = pos
            else:
                order = np.argsort(self.lids).astype(np.int32)
                self._pos_of_lid = (self.lids[order].astype(np.int64), order)
        if isinstance(self._pos_of_lid, tuple):
            ordered, order = self._pos_of_lid
            at = np.minimum(np.searchsorted(ordered, lids), len(ordered) - 1)
            return np.where(ordered[at] == lids, order[at], -1).astype(np.int32)
        out = np.full(len(lids), -1, dtype=np.int32)
        inside = (lids >= 0) & (lids < len(self._pos_of_lid))
        out[inside] = self._pos_of_lid[lids[inside]]
        return out

    def prepare(self) -> None:
        """Make the arrays that searches make at first use and keep (`WhooshSearcher.warm`)."""
        self.facet_counter.prepare()
        self.positions_of(np.empty(0, dtype=np.int64))
        for facet in self.topic_sets:
            self.row_topic_set(facet)

    def row_topic_set(self, facet: str) -> Bits:
        """A topic facet's bit sets per row (each row holds its listing's): a text search near a
        place tests the rows around in their order, without a gather through their listings.
        Made at first use (1M listings: 1.19M rows, ~10 MB per facet)."""
        found = self._row_topic_sets.get(facet)
        if found is None:
            found = self._row_topic_sets[facet] = Bits(self.topic_sets[facet].words[self.row_pos])
        return found

    def network_index(self, network_ids: list[int]) -> list[int]:
        found = np.searchsorted(self.network_codes, network_ids)
        return [int(i) for i, nid in zip(found, network_ids, strict=True)
                if i < len(self.network_codes) and self.network_codes[i] == nid]

    def _places_around(self, lat: float, lon: float, radius_mi: float) -> np.ndarray:
        """Place indices within reach of a circle (ascending), from the latitude bands it crosses:
        two binary searches over `place_key` find every band's slice at once."""
        low, high, _edge = area_ranges(lat, lon, radius_mi)
        lo = np.searchsorted(self.place_key, low, side="left")
        hi = np.searchsorted(self.place_key, high, side="left")
        return expand(lo, np.maximum(hi - lo, 0))

    def places_within(self, lat: float, lon: float, radius_mi: float) -> tuple[np.ndarray, np.ndarray]:
        """(place indices, squared chord lengths to the centre) of the places within `radius_mi`.

        The chord test is exact up to rounding; places within rounding of the edge are decided by
        the great-circle formula itself so the answer agrees with geopy.
        """
        places = self._places_around(lat, lon, radius_mi)
        centre = unit_vectors(np.array([lat]), np.array([lon]))[0]
        diff = self.place_xyz[places] - centre
        chord2 = np.einsum("ij,ij->i", diff, diff)
        limit = (2 * np.sin(radius_mi / EARTH_RADIUS_MI / 2)) ** 2
        keep = chord2 <= limit * (1 - 1e-9)
        edge = np.flatnonzero((chord2 > limit * (1 - 1e-9)) & (chord2 <= limit * (1 + 1e-9)))
        if len(edge):
            miles = great_circle_mi(lat, lon, self.place_lat[places[edge]], self.place_lon[places[edge]])
            keep[edge] = miles <= radius_mi
        return places[keep], chord2[keep]

    def rows_within(
        self, lat: float, lon: float, radius_mi: float, only: tuple[str, list[int]] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(row indices, squared chord lengths) of the listing places within `radius_mi`.

        With `only` = (facet, codes), just the rows whose listing holds one of those codes, read
        from that facet's per-code rows: the cost follows the rows kept, not the rows around.
        """
        places, chord2 = self.places_within(lat, lon, radius_mi)
        starts, ends = self.place_start[places], self.place_start[places + 1]
        if only is None:
            lengths = ends - starts
            return expand(starts, lengths), np.repeat(chord2, lengths)
        postings = self.row_postings[only[0]]
        rows, chords = [], []
        for code in only[1]:
            if code + 1 >= len(postings.indptr):
                continue
            held = postings.values[postings.indptr[code] : postings.indptr[code + 1]]
            # (Needles of the rows' own type: numpy would otherwise copy all of them to theirs.)
            lo, hi = np.searchsorted(held, starts.astype(held.dtype)), np.searchsorted(held, ends.astype(held.dtype))
            rows.append(held[expand(lo, hi - lo)])
            chords.append(np.repeat(chord2, hi - lo))
        if not rows:
            return np.empty(0, dtype=np.int64), np.empty(0)
        if len(rows) == 1:
            return rows[0].astype(np.int64), chords[0]
        rows, first = unique_first(np.concatenate(rows))  # a row holding two codes
        return rows.astype(np.int64), np.concatenate(chords)[first]
