"""The Whoosh text index: its schema, writing documents, and matching user words against it.

User text never reaches Whoosh's query parser: it is split into plain words by the shared text
rules (`search/text.py`), and each word becomes a group of exact and fuzzy terms read straight
from the posting lists. Posting lists are turned into listing ids with numpy and cached per
segment (segments are immutable; deletions are applied through a per-segment mask).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from whoosh import columns, fields, index

from directory.search.documents import ListingDoc
from directory.search.edits import within_edits
from directory.search.text import WordGroup, analyzer, plan_words, term_weight, topic_weight
from directory.search.topics import TopicIndex, TopicMatch
from directory.search.whoosh.arrays import marked, unique
from directory.search.whoosh.segments import PostingCache, docnums_of, leaves, read_lid_column


def schema() -> fields.Schema:
    return fields.Schema(
        # The listing id is only a column, read as one array to map doc numbers to listings and to
        # find the documents an update replaces. As an indexed key it would put a million terms in
        # the term table every lookup searches (and a NUMERIC field 16 range terms per document).
        lid=fields.COLUMN(columns.NumericColumn("q")),
        digest=fields.STORED(),
        name=fields.TEXT(analyzer=analyzer(), phrase=False),
        products=fields.TEXT(analyzer=analyzer(), phrase=False),
        place=fields.TEXT(analyzer=analyzer(), phrase=False),
    )


def open_index(directory: str | Path, create: bool = False) -> index.Index:
    """Open the Whoosh index in `directory`, creating an empty one if asked or missing."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    if create or not index.exists_in(str(path)):
        return index.create_in(str(path), schema())
    return index.open_dir(str(path))


def whoosh_fields(doc: ListingDoc) -> dict:
    return {
        "lid": doc.lid,
        "digest": doc.digest,
        "name": doc.name_text,
        "products": doc.products_text,
        "place": doc.place_text,
    }


def write_docs(ix: index.Index, docs: Iterable[ListingDoc], removed: Iterable[int] = ()) -> None:
    """Replace these documents and delete the removed listing ids, in one Whoosh commit."""
    docs = list(docs)
    writer = ix.writer(timeout=60.0, compound=False)
    try:
        replaced = np.fromiter({*removed, *(d.lid for d in docs)}, dtype=np.int64)
        reader = writer.reader()
        try:
            stale = docnums_of(reader, replaced)
        finally:
            reader.close()
        for docnum in stale:
            writer.delete_document(docnum)
        for doc in docs:
            writer.add_document(**whoosh_fields(doc))
    except BaseException:
        writer.cancel()
        raise
    writer.commit()


# Typo lookups remembered per segment (each a few terms): bounded, the oldest dropped first.
NEAR_TERMS_KEPT = 20_000


class TextMatcher:
    """Matches user words against a Whoosh searcher; returns listing ids and scores (numpy)."""

    def __init__(self, ix: index.Index, cache: PostingCache | None = None, topics: TopicIndex | None = None):
        self.ix = ix
        self.topics = topics
        self.cache = cache or PostingCache()
        self._lock = threading.Lock()
        self._searcher = ix.searcher()
        self._lid_maps: dict[str, np.ndarray] = {}
        self._lexicons: dict[tuple[str, str], tuple[list[str], frozenset[str]]] = {}
        # (segment id, field, word, edits) -> the segment's terms within that many edits: a
        # segment's lexicon never changes, so a typo looked up once is not walked again there.
        self._near_terms: dict[tuple[str, str, str, int], frozenset[str]] = {}

    def refresh(self) -> None:
        """Reopen the searcher when another writer committed (cheap when nothing changed)."""
        with self._lock:
            if not self._searcher.up_to_date():
                # Reopen rather than Searcher.refresh(): Whoosh's refresh reuses the reader of an
                # unchanged segment together with its old deletions, so edited and deleted
                # documents would go on matching their old text (and it fails on empty readers).
                self._searcher.close()
                self._searcher = self.ix.searcher()
                live = {seg.segment().segment_id() for seg, _ in self._leaves() if seg.segment() is not None}
                self._lexicons = {k: v for k, v in self._lexicons.items() if k[0] in live}
                self._near_terms = {k: v for k, v in self._near_terms.items() if k[0] in live}

    def close(self) -> None:
        self._searcher.close()

    def _leaves(self):
        return leaves(self._searcher.reader())

    def _lexicon(self, segreader, field: str) -> tuple[list[str], frozenset[str]]:
        """A segment's terms of one field, in memory (names and places: a few thousand words).

        Walking Whoosh's on-disk term table costs a seek and a read per step of every binary
        search, which made typo-tolerant lookups the slowest part of a query.
        """
        segment = segreader.segment()
        if segment is None:  # an empty index
            return [], frozenset()
        key = (segment.segment_id(), field)
        found = self._lexicons.get(key)
        if found is None:
            words = [term.decode("utf-8") for term in segreader.lexicon(field)] if field in segreader.schema else []
            found = (words, frozenset(words))
            self._lexicons[key] = found
        return found

    def _lid_map(self, segreader) -> np.ndarray:
        """Doc number -> listing id for one segment, -1 where the document is deleted."""
        segment = segreader.segment()
        key = f"{segment.segment_id()}:{segment.deleted_count()}"
        lids = self._lid_maps.get(key)
        if lids is None:
            lids = read_lid_column(segreader.column_reader("lid", translate=False), segreader.doc_count_all())
            deleted = segment.deleted_docs()
            if deleted:
                lids[np.fromiter(deleted, dtype=np.int64)] = -1
            self._lid_maps = {
                k: v for k, v in self._lid_maps.items() if not k.startswith(segment.segment_id())
            }
            self._lid_maps[key] = lids
        return lids

    def groups(self, text: str) -> list[WordGroup]:
        """Each analyzed word with the index terms and topics that match it (see `plan_words`)."""

        def exact(field: str, word: str) -> bool:
            return any(word in self._lexicon(seg, field)[1] for seg, _ in self._leaves())

        def near(field: str, word: str, maxdist: int) -> set[str]:
            found: set[str] = set()
            for segreader, _offset in self._leaves():
                if not segreader.doc_count_all():
                    continue
                key = (segreader.segment().segment_id(), field, word, maxdist)
                terms = self._near_terms.get(key)
                if terms is None:
                    terms = frozenset(within_edits(word, maxdist, self._lexicon(segreader, field)[0]))
                    if len(self._near_terms) >= NEAR_TERMS_KEPT:
                        del self._near_terms[next(iter(self._near_terms))]  # the oldest
                    self._near_terms[key] = terms
                found.update(terms)
            return found

        return plan_words(text, self.topics, exact, near)

    def _term_lids(self, field: str, term: str) -> np.ndarray:
        """Sorted unique listing ids whose `field` holds `term`, across all segments."""
        parts = []
        for segreader, _offset in self._leaves():
            if segreader.doc_count_all() == 0:
                continue
            segid = segreader.segment().segment_id()

            def load(segreader=segreader):
                if (field, term) not in segreader:
                    return np.empty(0, dtype=np.int64)
                matcher = segreader.postings(field, term)
                return np.fromiter(matcher.all_ids(), dtype=np.int64)

            docnums = self.cache.get((segid, field, term), load)
            if len(docnums):
                lids = self._lid_map(segreader)[docnums]
                parts.append(lids[lids >= 0])
        if not parts:
            return np.empty(0, dtype=np.int64)
        if len(parts) == 1:
            lids = parts[0]
            return lids if np.all(lids[1:] > lids[:-1]) else unique(lids)
        return unique(np.concatenate(parts))

    def match(self, text: str, topic_df: Callable[[TopicMatch], int]) -> TextHits | None:
        """The listings and topics that can match each word of `text`; None when it has no words.

        `topic_df(topic)` counts the live listings holding any of a topic's codes.
        """
        with self._lock:
            groups = self.groups(text)
            if not groups:
                return None
            total_docs = self._searcher.doc_count()
            resolved = []
            for group in groups:
                terms = []
                for field, term, weight in group.terms:
                    lids = self._term_lids(field, term)
                    if len(lids):
                        terms.append((lids, term_weight(weight, total_docs, len(lids))))
                topics = list(group.topics)
                weights = [topic_weight(t, total_docs, topic_df(t)) for t in topics]
                resolved.append(Word(terms, topics, weights))
            return TextHits(resolved)


@dataclass
class Word:
    """What one query word can match: (sorted listing ids, weight) per index term, and topics."""

    terms: list[tuple[np.ndarray, float]]
    topics: list[TopicMatch]
    topic_weights: list[float]


@dataclass
class TextHits:
    """The words of a query. A listing matches when every word matches through an index term or
    one of its topics; its score sums, per word, the best weight among what it holds (field
    weight x inverse document frequency over all live listings; fuzzy matches count less)."""

    words: list[Word]
    # (table, term) -> the positions of the term's listings in that table: `candidates` and
    # `score` both need them, for the same tables of one search.
    _term_positions: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def term_positions(self, table, term_lids: np.ndarray) -> np.ndarray:
        """Positions in `table` of a term's listings that it holds, worked out once per search
        (tables and terms live as long as this object: their ids are its keys)."""
        key = (id(table), id(term_lids))
        found = self._term_positions.get(key)
        if found is None:
            positions = table.positions_of(term_lids)
            found = self._term_positions[key] = positions[positions >= 0]
        return found

    def candidates(self, table) -> np.ndarray:
        """Positions in `table` matching the most selective word: a superset of the matches."""
        best = None
        for word in self.words:
            size = sum(len(lids) for lids, _ in word.terms)
            size += sum(int(table.topic_counts[t.facet][list(t.codes)].sum()) for t in word.topics)
            if best is None or size < best[0]:
                best = (size, word)
        if best is None:
            return np.empty(0, dtype=np.int32)
        word = best[1]
        parts = []
        if word.terms:  # (a listing holding two of the terms is made unique below)
            parts.append(np.concatenate([self.term_positions(table, lids) for lids, _ in word.terms]))
        if word.topics:
            everyone = np.arange(table.size, dtype=np.int32)
            held = np.zeros(table.size, dtype=bool)
            for topic in word.topics:
                held |= table.topic_sets[topic.facet].any_of(everyone, list(topic.codes))
            parts.append(np.flatnonzero(held).astype(np.int32))
        return unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int32)

    def rows_holding(self, table, rows: np.ndarray) -> np.ndarray | None:
        """A mask over these rows of `table`: False where the row's listing cannot match because a
        word that no index term matches (a topic word) has none of its topics there; None when
        every word has index terms (only `score` can tell). What it drops `score` would drop."""
        keep = None
        gathered: dict[str, dict[int, np.ndarray]] = {}  # each facet's words read once for all topics
        for word in self.words:
            if word.terms:
                continue
            held = np.zeros(len(rows), dtype=bool)
            for topic, weight in zip(word.topics, word.topic_weights, strict=True):
                if weight > 0:  # as in `score`
                    held |= table.row_topic_set(topic.facet).any_of(rows, list(topic.codes),
                                                                    gathered.setdefault(topic.facet, {}))
            keep = held if keep is None else keep & held
        return keep

    def score(self, table, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(matches, scores): a mask over these positions of `table`, and the score of each match
        in order. Which listings match is decided first, on booleans; scores are summed only for
        them (near a metro, a few thousand of 190,000 listings around at 1M)."""
        gathered: dict[str, dict[int, np.ndarray]] = {}
        held_by_word = []
        matches = None
        for word in self.words:
            alternatives = []
            for term_lids, weight in word.terms:
                alternatives.append((marked(table.size, self.term_positions(table, term_lids), pos), weight))
            for topic, weight in zip(word.topics, word.topic_weights, strict=True):
                held = table.topic_sets[topic.facet].any_of(pos, list(topic.codes),
                                                            gathered.setdefault(topic.facet, {}))
                alternatives.append((held, weight))
            any_held = np.zeros(len(pos), dtype=bool)
            for held, weight in alternatives:
                if weight > 0:  # (weights are positive: an inverse document frequency)
                    any_held |= held
            matches = any_held if matches is None else matches & any_held
            held_by_word.append(alternatives)
        if matches is None:
            matches = np.ones(len(pos), dtype=bool)
        chosen = np.flatnonzero(matches)
        total = np.zeros(len(chosen))
        for alternatives in held_by_word:  # per word, the best weight it holds, as before
            best = np.zeros(len(chosen))
            for held, weight in alternatives:
                np.maximum(best, np.where(held[chosen], weight, 0.0), out=best)
            total += best
        return matches, total
