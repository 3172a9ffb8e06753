"""CSV cells: formulas are neutralised on the way out and restored exactly on the way in."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from directory.csvcells import neutralise, neutralise_row, restore


def test_formula_cells_get_an_apostrophe():
    assert neutralise('=HYPERLINK("http://evil.example","click")') == '\'=HYPERLINK("http://evil.example","click")'
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert neutralise(f"{start}1+1") == f"'{start}1+1"


def test_plain_cells_are_unchanged():
    for value in ("Boston Infusion", "(617) 555-0100", "", "O'Brien", "'quoted", "1234567893"):
        assert neutralise(value) == value
    assert neutralise(42) == 42 and neutralise(None) is None
    assert neutralise_row(["a", "=b", 3]) == ["a", "'=b", 3]


@given(st.text())
def test_restore_undoes_neutralise(value):
    assert restore(neutralise(value)) == value


@given(st.lists(st.text(alphabet=st.sampled_from("'=+-@\t\rab,\"\n"), max_size=8), min_size=1, max_size=5))
def test_round_trip_through_a_csv_file(row):
    out = io.StringIO()
    csv.writer(out).writerow(neutralise_row(row))
    read = next(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert [restore(cell) for cell in read] == row
    assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in read)
