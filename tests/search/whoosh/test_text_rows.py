"""Text near a place: the topic words tested on the rows around (`TextHits.rows_holding`, each row
holding its listing's topic bits) drop only rows `score` would drop, so the answer is the one of
testing every listing around."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from directory.search.codebook import Codebook
from directory.search.query import Place, SearchQuery
from directory.search.topics import TopicMatch
from directory.search.whoosh.engine import combine, evaluate
from directory.search.whoosh.table import ListingTable
from directory.search.whoosh.text import TextHits, Word
from tests.search.whoosh.test_table import POINTS, make_docs

CODEBOOK = Codebook.current()
CONCEPTS = list(CODEBOOK.concepts[:6])


@pytest.fixture(scope="module")
def table() -> ListingTable:
    rng = random.Random(3)
    docs = [replace(doc, concepts=rng.sample(CONCEPTS, rng.choice([0, 1, 2, 3])))
            for doc in make_docs(21, n=400)]
    return ListingTable.concat([ListingTable.build(docs[i : i + 90], CODEBOOK) for i in range(0, len(docs), 90)])


def topic_word(codes: list[int], facet: str = "concepts") -> Word:
    return Word([], [TopicMatch(facet, tuple(codes), False)], [1.5])


@settings(max_examples=80, deadline=None)
@given(point=st.sampled_from(POINTS), radius=st.sampled_from([2, 6, 15, 40]),
       words=st.lists(st.tuples(st.lists(st.integers(0, 5), min_size=1, max_size=2, unique=True),
                                st.booleans()), min_size=1, max_size=3),
       accepting=st.booleans(), sort=st.sampled_from(["distance", "relevance", "name"]))
def test_text_near_a_place_is_the_same_with_and_without_the_row_test(table, point, radius, words, accepting, sort):
    hits = []
    for codes, with_term in words:
        word = topic_word(codes)
        if with_term:  # a word an index term also matches: only `score` can tell
            lids = np.array(sorted(random.Random(sum(codes)).sample(range(1, 401), 60)), dtype=np.int64)
            word = Word([(lids, 3.0)], word.topics, word.topic_weights)
        hits.append(word)
    text = TextHits(hits)
    query = SearchQuery(q="words", place=Place(*point, radius), accepting=accepting, sort=sort, per_page=12)
    answers = []
    for rows_holding in (text.rows_holding, lambda table, rows: None):
        text.rows_holding = rows_holding
        result = combine([evaluate(table, query, CODEBOOK, text)], query)
        answers.append((result.total, [(h.lid, h.distance_mi, h.score) for h in result.hits], result.facets))
    assert answers[0] == answers[1]


def test_rows_hold_their_listings_topic_bits(table):
    rows = np.arange(len(table.row_pos))
    for code in range(len(CONCEPTS)):
        by_row = table.row_topic_set("concepts").any_of(rows, [code])
        assert by_row.tolist() == table.concept_set.any_of(table.row_pos[rows], [code]).tolist()
    assert table.row_topic_set("concepts") is table.row_topic_set("concepts")  # made once


def test_the_row_test_drops_rows_only_for_words_without_index_terms(table):
    rows, _ = table.rows_within(*POINTS[0], 40)
    held = TextHits([topic_word([0]), topic_word([1, 2])]).rows_holding(table, rows)
    listings = table.row_pos[rows]
    expected = table.concept_set.any_of(listings, [0]) & table.concept_set.any_of(listings, [1, 2])
    assert held.tolist() == expected.tolist()
    assert 0 < held.sum() < len(rows)
    with_term = Word([(np.array([1, 2, 3], dtype=np.int64), 3.0)], [], [])
    assert TextHits([with_term]).rows_holding(table, rows) is None
    assert not TextHits([Word([], [], [])]).rows_holding(table, rows).any()  # a word nothing matches
