"""Typo tolerance: the terms of a sorted lexicon within a few edits of a word.

The rule (both backends, and the topic index): a term matches when it starts with the word's first
letter and is within `maxdist` Levenshtein edits (insert, delete or replace one letter) of the word.
rapidfuzz computes the distances in C over the terms of that first letter; with equal first letters
the distance of the words is the distance of the rest, which is what PostgreSQL's
`levenshtein_less_equal(substr(code, 2), rest, k)` measures.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein


def within_edits(word: str, maxdist: int, terms: Sequence[str]) -> list[str]:
    """The terms of `terms` (sorted in code point order) within `maxdist` edits of `word` that
    share its first letter, in that order (the word itself included when present)."""
    if not word:
        return []
    first = word[0]
    lo = bisect_left(terms, first)
    hi = bisect_left(terms, chr(ord(first) + 1), lo)
    if lo == hi:
        return []
    found = process.extract(word, terms[lo:hi], scorer=Levenshtein.distance, score_cutoff=maxdist, limit=None)
    return [terms[lo + at] for _term, _distance, at in sorted(found, key=lambda match: match[2])]
