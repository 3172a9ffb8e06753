"""The array helpers of the Whoosh backend's tables agree with numpy's definitions."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from directory.search.whoosh.arrays import Bits, expand, marked, unique, unique_first

integers = st.lists(st.integers(-5, 40), max_size=60)


@settings(max_examples=200, deadline=None)
@given(values=integers, dtype=st.sampled_from([np.int32, np.int64]))
def test_unique_is_numpys_unique(values, dtype):
    array = np.array(values, dtype=dtype)
    got = unique(array)
    assert got.dtype == array.dtype
    assert got.tolist() == np.unique(array).tolist()


@settings(max_examples=200, deadline=None)
@given(values=integers)
def test_unique_first_is_numpys_unique_with_the_first_index(values):
    array = np.array(values, dtype=np.int64)
    distinct, first = unique_first(array)
    expected, expected_first = np.unique(array, return_index=True)
    assert distinct.tolist() == expected.tolist()
    assert first.tolist() == expected_first.tolist()


def test_expand_concatenates_ranges():
    assert expand(np.array([3, 10, 0]), np.array([2, 0, 3])).tolist() == [3, 4, 0, 1, 2]
    assert expand(np.array([], dtype=np.int64), np.array([], dtype=np.int64)).tolist() == []


@settings(max_examples=100, deadline=None)
@given(data=st.data(), width=st.integers(1, 3), listings=st.integers(1, 1200))
def test_bit_counts_equal_counting_each_code(data, width, listings):
    """Both ways of counting (unpacked bits for a few listings, byte histograms for more)."""
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    words = rng.integers(0, 2**63, (listings, width), dtype=np.int64).astype(np.uint64)
    words[rng.random(listings) < 0.3] = 0
    positions = rng.choice(listings, data.draw(st.integers(0, listings)), replace=False)
    expected = [sum(int(words[p, code >> 6] >> np.uint64(code & 63)) & 1 for p in positions)
                for code in range(64 * width)]
    assert Bits(words).counts(positions).tolist() == expected


@settings(max_examples=200, deadline=None)
@given(data=st.data(), size=st.integers(1, 300))
def test_marked_is_membership(data, size):
    """`marked` answers as `np.isin` and leaves its scratch array clear for the next call (a second
    call with other marks is not answered by the first's)."""
    positions = np.array(data.draw(st.lists(st.integers(0, size - 1), max_size=80)), dtype=np.int64)
    for _ in range(2):
        marks = np.array(data.draw(st.lists(st.integers(0, size - 1), max_size=40, unique=True)), dtype=np.int32)
        assert marked(size, marks, positions).tolist() == np.isin(positions, marks).tolist()
