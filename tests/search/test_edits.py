"""Typo tolerance's rule (`search.edits.within_edits`): the terms sharing a word's first letter
within k Levenshtein edits, checked against the textbook distance and against the Levenshtein
automaton of Whoosh that answered before (same terms for the same lexicon), and the topic index's
fuzzy matches through it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh.codec.base import Automata

from directory.search.codebook import Codebook
from directory.search.edits import within_edits
from directory.search.text import analyzer
from directory.search.topics import TopicIndex

LETTERS = "abeimnorsté"
words = st.text(alphabet=LETTERS, min_size=1, max_size=9)


def distance(a: str, b: str) -> int:
    """Levenshtein distance by the textbook recurrence (insert, delete, replace one letter)."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


class SortedCursor:
    """The cursor Whoosh's automaton walk reads (text, find) over a sorted list of terms."""

    def __init__(self, terms: list[str]):
        self.terms, self.at = terms, 0

    def text(self):
        return self.terms[self.at] if self.at < len(self.terms) else None

    def find(self, term: str) -> None:
        self.at = next((i for i, t in enumerate(self.terms) if t >= term), len(self.terms))


@settings(max_examples=300, deadline=None)
@given(word=words, lexicon=st.lists(words, max_size=40), k=st.integers(1, 2))
def test_the_terms_within_k_edits_sharing_the_first_letter(word, lexicon, k):
    terms = sorted(set(lexicon))
    expected = [t for t in terms if t[0] == word[0] and distance(word, t) <= k]
    assert within_edits(word, k, terms) == expected


@settings(max_examples=150, deadline=None)
@given(word=st.text(alphabet=LETTERS, min_size=5, max_size=9), lexicon=st.lists(words, max_size=40),
       k=st.integers(1, 2))
def test_the_same_terms_as_the_levenshtein_automaton_with_a_one_letter_prefix(word, lexicon, k):
    terms = sorted(set(lexicon))
    automaton = Automata.levenshtein_dfa(word, k, prefix=1)
    assert within_edits(word, k, terms) == sorted(set(Automata.find_matches(automaton, SortedCursor(terms))))


def test_no_term_of_that_letter_and_the_empty_word():
    assert within_edits("myositis", 2, ["alpha", "zeta"]) == []
    assert within_edits("", 2, ["alpha"]) == []
    assert within_edits("zeta", 1, ["alpha", "zeta", "zetas"]) == ["zeta", "zetas"]


def test_the_topic_index_matches_misspelled_topic_words_and_remembers_them():
    codebook = Codebook.current()
    topics = TopicIndex(codebook.concepts, codebook.specialties, analyzer())
    [stem] = [token.text for token in analyzer()("dermatomyositis")]
    exact = topics.match(stem)
    assert exact and not any(t.fuzzy for t in exact)
    typo = stem[:4] + stem[5] + stem[4] + stem[6:]  # two letters swapped: two edits
    assert topics.match(typo) == ()
    assert topics.match(typo, 1) == ()
    fuzzy = topics.match(typo, 2)
    assert [(t.facet, t.codes) for t in fuzzy] == [(t.facet, t.codes) for t in exact]
    assert all(t.fuzzy for t in fuzzy)
    assert topics.match(typo, 2) is fuzzy  # remembered: the topic index never changes
