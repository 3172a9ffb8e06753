"""The text rules both backends share: how user text and listing text become words, which index
terms and topics a word matches (exactly, or within a few edits), and how matches are weighted.

The analyzer is Whoosh's (the PostgreSQL backend indexes the terms it makes, so both hold the
same stems and stop words); nothing here reads or writes an index.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from whoosh.analysis import StemmingAnalyzer

from directory.search.topics import TopicIndex, TopicMatch

FIELD_WEIGHTS = {"name": 3.0, "products": 1.5, "place": 1.0}
TOPIC_WEIGHT = 1.5
FUZZY_WEIGHT = 0.6
MAX_WORDS = 12
MAX_FUZZY_TERMS = 24


def analyzer():
    """Words of letters and digits (Whoosh's default also keeps '*' inside words), lower-cased,
    English stop words removed, Porter-stemmed. The index and the query use the same one."""
    return StemmingAnalyzer(expression=r"[^\W_]+", minsize=1)


@dataclass(frozen=True)
class WordGroup:
    """One word of the user's text, the index terms and the topics that can match it."""

    word: str
    terms: tuple[tuple[str, str, float], ...]  # (field, term, weight)
    topics: tuple[TopicMatch, ...] = ()


def query_words(text: str) -> list[str]:
    """The analyzed (stemmed, stop-words removed) words of user text, first MAX_WORDS of them."""
    seen: dict[str, None] = {}
    for token in analyzer()(text):
        seen.setdefault(token.text, None)
    return list(seen)[:MAX_WORDS]


def fuzzy_distance(word: str) -> int:
    """Edits allowed for a word: none under 5 letters, 1 up to 7, 2 from 8 (typo tolerance)."""
    if len(word) < 5:
        return 0
    return 1 if len(word) < 8 else 2


def plan_words(
    text: str,
    topics: TopicIndex | None,
    exact: Callable[[str, str], bool],
    near: Callable[[str, str, int], set[str]],
) -> list[WordGroup]:
    """Each analyzed word of `text` with the index terms and topics that can match it.

    The rule both backends share: a word matches the fields holding it as a term (`exact(field,
    word)`), and the topics (conditions, therapies, specialties) whose text holds it. Words of 5+
    letters that are not topic words also match index terms within a few edits sharing the first
    letter (`near(field, word, maxdist)`), at a lower weight, first MAX_FUZZY_TERMS of them in
    code point order per field; topic words are left alone because the vocabulary already lists
    the spellings that matter, and the fuzzy terms are the expensive part of a query.
    """
    result = []
    for word in query_words(text):
        terms = [(field, word, weight) for field, weight in FIELD_WEIGHTS.items() if exact(field, word)]
        matched = topics.match(word) if topics else ()
        maxdist = fuzzy_distance(word)
        if not matched and maxdist:
            for field, weight in FIELD_WEIGHTS.items():
                found = near(field, word, maxdist)
                found.discard(word)
                for term in sorted(found)[:MAX_FUZZY_TERMS]:
                    terms.append((field, term, weight * FUZZY_WEIGHT))
            if topics:
                matched = topics.match(word, maxdist)
        result.append(WordGroup(word, tuple(terms), tuple(matched)))
    return result


def term_weight(weight: float, total_docs: int, df: int) -> float:
    """Field weight x inverse document frequency (the same float arithmetic in every backend)."""
    return weight * math.log(1 + max(total_docs, 1) / df)


def topic_weight(topic: TopicMatch, total_docs: int, df: int) -> float:
    """A topic's weight: like a term's, over the listings holding any of its codes."""
    return term_weight(TOPIC_WEIGHT * (FUZZY_WEIGHT if topic.fuzzy else 1.0), total_docs, max(df, 1))
