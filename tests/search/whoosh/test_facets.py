"""Facet vectors counted by numbers per group (`FacetCounter`) equal those counted bit by bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from directory.search.whoosh import facets
from directory.search.whoosh.arrays import Bits
from directory.search.whoosh.facets import FacetCounter, facet_vector


def table(rng: np.random.Generator, listings: int, specialty_words: int, network_words: int, network_bits: int):
    """Random arrays of a table: specialty sets drawn from a few combinations (as in real data),
    networks among the low `network_bits` bits of each word."""
    combinations = rng.integers(0, 2**63, (40, specialty_words), dtype=np.int64).astype(np.uint64)
    specialty = combinations[rng.integers(0, 40, listings)]
    networks = rng.integers(0, 2**63, (listings, network_words), dtype=np.int64).astype(np.uint64)
    networks &= np.uint64((1 << network_bits) - 1)
    networks[rng.random(listings) < 0.2] = 0
    kinds = rng.integers(0, 2, listings).astype(np.int8)
    accepting = rng.random(listings) < 0.6
    return kinds, accepting, Bits(specialty), Bits(networks)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), listings=st.integers(facets.FEW + 1, 3000),
       specialty_words=st.integers(1, 2), network_words=st.integers(1, 2),
       network_bits=st.sampled_from([5, 20, 40, 63]))
def test_counted_by_numbers_equals_counted_by_bits(seed, listings, specialty_words, network_words, network_bits):
    """Packed (few groups: one 64-bit read per listing) and unpacked (many groups) alike, with
    listings chosen in any order and some twice."""
    rng = np.random.default_rng(seed)
    arrays = table(rng, listings, specialty_words, network_words, network_bits)
    counter = FacetCounter(*arrays)
    for size in (facets.FEW + 1, listings, 2 * listings):
        positions = rng.integers(0, listings, size)
        assert counter.vector(positions).tolist() == facet_vector(*arrays, positions).tolist()
    numbers = counter.prepare()[0]
    groups = 1 + network_words * -(-network_bits // facets.CHUNK_BITS)
    assert (numbers.dtype == np.uint64) == (groups <= facets.PACKED)


def test_a_few_listings_are_counted_directly():
    rng = np.random.default_rng(1)
    arrays = table(rng, 2000, 1, 1, 40)
    counter = FacetCounter(*arrays)
    positions = rng.integers(0, 2000, facets.FEW)
    assert counter.vector(positions).tolist() == facet_vector(*arrays, positions).tolist()
    assert counter._parts is None  # nothing built for them


def test_an_empty_table_is_prepared():
    """A serving process warms the arrays of an empty index too."""
    arrays = table(np.random.default_rng(2), 0, 1, 1, 40)
    counter = FacetCounter(*arrays)
    numbers, length, groups = counter.prepare()
    assert len(numbers) == 0 and len(groups) == 1
    assert counter.vector(np.empty(0, dtype=np.int64)).tolist() == [0] * counter.width
