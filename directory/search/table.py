"""Compact in-memory arrays of every searchable listing: places, flags and filter ids.

Geography and structured filters are answered here with numpy (a lat-sorted band, then exact
great-circle miles for the candidates); Whoosh answers only the text part. A table is derived from
the database like the index, saved beside it, and loads in a fraction of a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from directory import reference
from directory.geo import bounding_box, great_circle_mi
from directory.search.documents import ListingDoc

NAME_KEY_BYTES = 48
KIND_CODES = {"organization": 0, "practitioner": 1}


def name_key(name: str) -> bytes:
    """Sort key for names: case-folded, accents kept as UTF-8, first NAME_KEY_BYTES bytes."""
    return name.casefold().encode("utf-8")[:NAME_KEY_BYTES]


@dataclass(frozen=True)
class Codebook:
    """Stable small-integer codes for specialty, language and service ids."""

    specialties: tuple[str, ...]
    languages: tuple[str, ...]
    services: tuple[str, ...]

    @classmethod
    def current(cls) -> Codebook:
        return cls(
            tuple(reference.taxonomy()),
            tuple(reference.languages()),
            tuple(c.id for c in reference.vocabulary().services()),
        )

    def encode(self, facet: str, values: list[str]) -> list[int]:
        lookup = getattr(self, "_index_" + facet, None)
        if lookup is None:
            lookup = {v: i for i, v in enumerate(getattr(self, facet))}
            object.__setattr__(self, "_index_" + facet, lookup)
        return [lookup[v] for v in values if v in lookup]


class Ragged:
    """A list of small integer lists, one per listing, as (indptr, values)."""

    def __init__(self, indptr: np.ndarray, values: np.ndarray):
        self.indptr = indptr
        self.values = values
        self._inverted: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def from_lists(cls, lists: list[list[int]]) -> Ragged:
        lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
        indptr = np.zeros(len(lists) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        values = np.fromiter((v for x in lists for v in x), dtype=np.int32, count=int(indptr[-1]))
        return cls(indptr, values)

    def gather(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values, owner) of these positions, where owner indexes into `positions`."""
        starts = self.indptr[positions]
        lengths = self.indptr[positions + 1] - starts
        owner = np.repeat(np.arange(len(positions)), lengths)
        offsets = np.arange(len(owner)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return self.values[np.repeat(starts, lengths) + offsets], owner

    def any_of(self, positions: np.ndarray, wanted: list[int]) -> np.ndarray:
        """Mask over `positions`: True where the listing holds any of `wanted`."""
        mask = np.zeros(len(positions), dtype=bool)
        if len(positions) > len(self.indptr) // 8:
            holders = self.holders(wanted)
            mask |= np.isin(positions, holders, assume_unique=False)
            return mask
        values, owner = self.gather(positions)
        mask[owner[np.isin(values, wanted)]] = True
        return mask

    def holders(self, wanted: list[int]) -> np.ndarray:
        """Sorted positions of the listings holding any of `wanted` (inverted lists, built once)."""
        if self._inverted is None:
            owners = np.repeat(
                np.arange(len(self.indptr) - 1, dtype=np.int32), np.diff(self.indptr)
            )
            order = np.lexsort((owners, self.values))
            self._inverted = (self.values[order], owners[order])
        sorted_values, sorted_owners = self._inverted
        parts = []
        for value in wanted:
            lo, hi = np.searchsorted(sorted_values, [value, value + 1])
            parts.append(sorted_owners[lo:hi])
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int32)

    def counts(self, positions: np.ndarray) -> dict[int, int]:
        values, _ = self.gather(positions)
        if not len(values):
            return {}
        uniq, counts = np.unique(values, return_counts=True)
        return dict(zip(uniq.tolist(), counts.tolist(), strict=True))


class ListingTable:
    """Arrays over n listings (positions 0..n-1) and their m places (rows, sorted by latitude)."""

    FIELDS = ("lids", "kinds", "accepting", "telehealth", "name_keys", "row_lat", "row_lon", "row_pos")
    RAGGED = ("specialties", "networks", "languages", "services")

    def __init__(self, arrays: dict[str, np.ndarray]):
        for name in self.FIELDS:
            setattr(self, name, arrays[name])
        for name in self.RAGGED:
            setattr(self, name, Ragged(arrays[name + "_indptr"], arrays[name + "_values"]))
        self._pos_of_lid: np.ndarray | None = None

    @property
    def size(self) -> int:
        return len(self.lids)

    @classmethod
    def build(cls, docs: list[ListingDoc], codebook: Codebook) -> ListingTable:
        docs = sorted(docs, key=lambda d: d.lid)
        n = len(docs)
        row_pos = np.fromiter(
            (i for i, d in enumerate(docs) for _ in d.places), dtype=np.int32
        )
        row_lat = np.fromiter((p[0] for d in docs for p in d.places), dtype=np.float64)
        row_lon = np.fromiter((p[1] for d in docs for p in d.places), dtype=np.float64)
        order = np.argsort(row_lat, kind="stable")
        arrays = {
            "lids": np.fromiter((d.lid for d in docs), dtype=np.int64, count=n),
            "kinds": np.fromiter((KIND_CODES[d.kind] for d in docs), dtype=np.int8, count=n),
            "accepting": np.fromiter((d.accepting for d in docs), dtype=bool, count=n),
            "telehealth": np.fromiter((d.telehealth for d in docs), dtype=bool, count=n),
            "name_keys": np.array([name_key(d.name) for d in docs], dtype=f"S{NAME_KEY_BYTES}"),
            "row_lat": row_lat[order],
            "row_lon": row_lon[order],
            "row_pos": row_pos[order],
        }
        lists = {
            "specialties": [codebook.encode("specialties", d.specialties) for d in docs],
            "networks": [d.networks for d in docs],
            "languages": [codebook.encode("languages", d.languages) for d in docs],
            "services": [codebook.encode("services", d.services) for d in docs],
        }
        for name, values in lists.items():
            ragged = Ragged.from_lists(values)
            arrays[name + "_indptr"], arrays[name + "_values"] = ragged.indptr, ragged.values
        return cls(arrays)

    @classmethod
    def concat(cls, tables: list[ListingTable]) -> ListingTable:
        """One table from several built ones (the reindex builds a table per batch)."""
        arrays: dict[str, np.ndarray] = {}
        offsets = np.cumsum([0] + [t.size for t in tables])
        for name in ("lids", "kinds", "accepting", "telehealth", "name_keys"):
            arrays[name] = np.concatenate([getattr(t, name) for t in tables])
        lat = np.concatenate([t.row_lat for t in tables])
        order = np.argsort(lat, kind="stable")
        arrays["row_lat"] = lat[order]
        arrays["row_lon"] = np.concatenate([t.row_lon for t in tables])[order]
        arrays["row_pos"] = np.concatenate(
            [t.row_pos + off for t, off in zip(tables, offsets, strict=False)]
        ).astype(np.int32)[order]
        for name in cls.RAGGED:
            parts = [getattr(t, name) for t in tables]
            value_offsets = np.cumsum([0] + [p.indptr[-1] for p in parts])
            arrays[name + "_indptr"] = np.concatenate(
                [np.zeros(1, dtype=np.int64)]
                + [p.indptr[1:] + off for p, off in zip(parts, value_offsets, strict=False)]
            )
            arrays[name + "_values"] = np.concatenate([p.values for p in parts]).astype(np.int32)
        return cls(arrays)

    @classmethod
    def empty(cls, codebook: Codebook) -> ListingTable:
        return cls.build([], codebook)

    def save(self, path: Path, **meta: int) -> None:
        arrays = {name: getattr(self, name) for name in self.FIELDS}
        for name in self.RAGGED:
            ragged = getattr(self, name)
            arrays[name + "_indptr"], arrays[name + "_values"] = ragged.indptr, ragged.values
        arrays.update({"meta_" + k: np.array(v) for k, v in meta.items()})
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)  # atomic: readers see the old or the new snapshot, never half of one

    @classmethod
    def load(cls, path: Path) -> tuple[ListingTable, dict[str, int]]:
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
        meta = {k[5:]: int(v) for k, v in arrays.items() if k.startswith("meta_")}
        return cls(arrays), meta

    def positions_of(self, lids: np.ndarray) -> np.ndarray:
        """Positions of these listing ids; -1 for ids not in this table."""
        if self._pos_of_lid is None:
            top = int(self.lids.max()) + 1 if self.size else 0
            pos = np.full(top, -1, dtype=np.int32)
            pos[self.lids] = np.arange(self.size, dtype=np.int32)
            self._pos_of_lid = pos
        lids = np.asarray(lids, dtype=np.int64)
        out = np.full(len(lids), -1, dtype=np.int32)
        inside = (lids >= 0) & (lids < len(self._pos_of_lid))
        out[inside] = self._pos_of_lid[lids[inside]]
        return out

    def rows_within(self, lat: float, lon: float, radius_mi: float) -> tuple[np.ndarray, np.ndarray]:
        """(row indices, miles) of the places within `radius_mi` of (lat, lon)."""
        min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius_mi)
        lo, hi = np.searchsorted(self.row_lat, [min_lat, max_lat + 1e-12])
        band_lon = self.row_lon[lo:hi]
        if min_lon < -180 or max_lon > 180:  # the box crosses the antimeridian
            inside = (band_lon >= ((min_lon + 540) % 360) - 180) | (band_lon <= ((max_lon + 540) % 360) - 180)
        else:
            inside = (band_lon >= min_lon) & (band_lon <= max_lon)
        rows = lo + np.flatnonzero(inside)
        miles = great_circle_mi(lat, lon, self.row_lat[rows], self.row_lon[rows])
        keep = miles <= radius_mi
        return rows[keep], miles[keep]
