"""Facet vectors: what the facet counts of a set of listings add up from.

A facet vector is [listings, organizations, practitioners, accepting, count per specialty code...,
count per network code...] (`facet_vector`). A search's matches may be hundreds of thousands of
listings (a misspelt common surname without a place: 423,000 at 1M), so `FacetCounter` counts them
without looking at their bits: each listing is described by a few small numbers, one per group of
facet columns (its kind, acceptance and specialties as one group; each 16 bits of its network
words as another), the numbers of the matches are counted with one `bincount`, and each group's
counts are multiplied by what its numbers stand for. Few listings (the usual page of a search near
a place) are counted directly.
"""

from __future__ import annotations

import numpy as np

from directory.search.whoosh.arrays import Bits, unpacked

FEW = 500  # up to this many listings, `facet_vector` counts their bits directly
CHUNK_BITS = 16  # network words are described 16 bits at a time
PACKED = 4  # up to this many groups with at most 65,535 numbers in all: one uint64 per listing


def facet_vector(kinds: np.ndarray, accepting: np.ndarray, specialty: Bits, network: Bits,
                 positions: np.ndarray) -> np.ndarray:
    """The facet vector of these listings, from their own values and bits."""
    kind_counts = np.bincount(kinds[positions], minlength=2)
    head = [len(positions), kind_counts[0], kind_counts[1], np.count_nonzero(accepting[positions])]
    return np.concatenate([np.array(head, dtype=np.int64), specialty.counts(positions),
                           network.counts(positions)])


def _row_numbers(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each row's number among the distinct rows of `matrix` in sorted order, the index of a row
    holding each), by a sort (numpy 2's hash-based `np.unique` is slower on these arrays)."""
    order = np.lexsort(matrix.T[::-1])
    ordered = matrix[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    numbers = np.empty(len(order), dtype=np.int64)
    numbers[order] = np.cumsum(new) - 1
    return numbers, order[new]


def _dense_numbers(values: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """As `_row_numbers` for one column of integers in [0, bound), by a table of `bound` entries
    instead of a sort (with, for each distinct value, the index of some row holding it)."""
    one = np.full(bound, -1, dtype=np.int64)
    one[values] = np.arange(len(values))
    present = one >= 0
    number_of = np.cumsum(present) - 1
    return number_of[values], one[present]


class FacetCounter:
    """Facet vectors of any set of positions of one table (see the module's docstring)."""

    def __init__(self, kinds: np.ndarray, accepting: np.ndarray, specialty: Bits, network: Bits):
        self.kinds, self.accepting, self.specialty, self.network = kinds, accepting, specialty, network
        self.width = 4 + 64 * (specialty.words.shape[1] + network.words.shape[1])
        # (numbers per listing, bincount length, groups as (first column, first number, matrix))
        self._parts: tuple[np.ndarray, int, list[tuple[int, int, np.ndarray]]] | None = None

    def vector(self, positions: np.ndarray) -> np.ndarray:
        if len(positions) <= FEW:
            return facet_vector(self.kinds, self.accepting, self.specialty, self.network, positions)
        numbers, length, groups = self.prepare()
        gathered = numbers[positions]
        if gathered.dtype == np.uint64:  # PACKED numbers of 16 bits
            gathered = gathered.view(np.uint16)
        seen = np.bincount(gathered.ravel(), minlength=length).astype(np.float64)
        out = np.zeros(self.width, dtype=np.int64)
        out[0] = len(positions)
        for column, first, matrix in groups:
            # Exact: sums of at most a few million ones, far below 2**53.
            out[column : column + matrix.shape[1]] = np.rint(seen[first : first + len(matrix)] @ matrix)
        return out

    def prepare(self) -> tuple[np.ndarray, int, list[tuple[int, int, np.ndarray]]]:
        """Each listing's number in every group, made at the first large count (or when a serving
        process warms its searcher) and then kept: a table never changes (the overlay of recent
        changes is a new table)."""
        if self._parts is None:
            self._parts = self._build()
        return self._parts

    def _build(self) -> tuple[np.ndarray, int, list[tuple[int, int, np.ndarray]]]:
        columns, matrices, starts = [], [], []
        # Kind, acceptance and specialty codes together: a few hundred distinct combinations.
        specialty_numbers, one_each = _row_numbers(self.specialty.words)
        head = (specialty_numbers * 2 + self.kinds.astype(np.int64)) * 2 + self.accepting.astype(np.int64)
        numbers, first = _dense_numbers(head, 4 * len(one_each))
        kinds, accepting = self.kinds[first].astype(np.int64), self.accepting[first]
        specialty_bits = unpacked(self.specialty.words[one_each[specialty_numbers[first]]])
        columns.append(numbers)
        matrices.append(np.column_stack([kinds == 0, kinds == 1, accepting, specialty_bits]).astype(np.float64))
        starts.append(1)
        network_column = 4 + 64 * self.specialty.words.shape[1]
        for w in range(self.network.words.shape[1]):
            for shift in range(0, 64, CHUNK_BITS):
                values = ((self.network.words[:, w] >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.int64)
                chunk_numbers, first = _dense_numbers(values, 1 << CHUNK_BITS)
                distinct = values[first]
                if not distinct.any():
                    continue  # no listing holds a network of these 16 bits
                columns.append(chunk_numbers)
                matrices.append(((distinct[:, None] >> np.arange(CHUNK_BITS)) & 1).astype(np.float64))
                starts.append(network_column + 64 * w + shift)
        firsts = np.cumsum([0] + [len(m) for m in matrices])
        groups = list(zip(starts, firsts[:-1].tolist(), matrices, strict=True))
        length = int(firsts[-1])
        numbers = np.column_stack(columns) + firsts[:-1]
        if len(columns) <= PACKED and length < 1 << 16:
            # One 8-byte read per listing; a spare column holds `length`, a count left out.
            packed = np.full((len(numbers), PACKED), length, dtype=np.uint16)
            packed[:, : len(columns)] = numbers
            return packed.view(np.uint64).ravel(), length + 1, groups
        return numbers.astype(np.int32), length, groups
