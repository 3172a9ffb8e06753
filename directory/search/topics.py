"""Topics: what a listing treats or offers (vocabulary concepts and NUCC specialties).

Nearly every listing has some topic words (rheumatology, IVIG, myositis...), so their posting lists
would be long and slow to walk in pure Python, and would make the main index ten times larger.
Instead a listing's topics are bit sets in the listing table, and user words are matched against a
small in-memory Whoosh index of the topic texts (same analyzer: stems, synonyms, fuzzy terms).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

from whoosh import fields
from whoosh.filedb.filestore import RamStorage

from directory import reference
from directory.search.edits import within_edits

# Matches remembered per (word, edits): the topic index never changes in a process.
MATCHES_KEPT = 20_000


@dataclass(frozen=True)
class TopicMatch:
    """A word matched these codes of one bit set ('concepts' or 'specialties')."""

    facet: str
    codes: tuple[int, ...]
    fuzzy: bool


class TopicIndex:
    """Every concept (label + synonyms) and specialty (display + group) as a tiny Whoosh document."""

    def __init__(self, concepts: tuple[str, ...], specialties: tuple[str, ...], analyzer):
        schema = fields.Schema(
            facet=fields.STORED(), code=fields.STORED(), body=fields.TEXT(analyzer=analyzer, phrase=False)
        )
        # A unique name: Whoosh keeps a writer's temporary files in <tmp>/<indexname>.tmp, and
        # processes starting together would otherwise share (and delete) one folder.
        self.ix = RamStorage().create_index(schema, indexname=f"topics-{uuid.uuid4().hex}")
        vocabulary, taxonomy = reference.vocabulary(), reference.taxonomy()
        writer = self.ix.writer()
        for code, concept_id in enumerate(concepts):
            concept = vocabulary.by_id[concept_id]
            writer.add_document(facet="concepts", code=code,
                                body=" ".join((concept.label, *concept.synonyms)))
        for code, specialty in enumerate(specialties):
            row = taxonomy[specialty]
            writer.add_document(facet="specialties", code=code, body=f"{row['display']} {row['group']}")
        writer.commit()
        self.searcher = self.ix.searcher()
        self._stored = [self.searcher.stored_fields(n) for n in range(self.searcher.doc_count_all())]
        reader = self.searcher.reader()
        self._terms = [term.decode("utf-8") for term in reader.lexicon("body")]
        self._codes = {term: self._codes_of(reader, term) for term in self._terms}
        self._matches: dict[tuple[str, int], tuple[TopicMatch, ...]] = {}
        self._lock = threading.Lock()

    def _codes_of(self, reader, term: str) -> list[tuple[str, int]]:
        return [(self._stored[n]["facet"], self._stored[n]["code"]) for n in reader.postings("body", term).all_ids()]

    def match(self, word: str, maxdist: int = 0) -> tuple[TopicMatch, ...]:
        """Topics containing `word` (an analyzed term); with `maxdist` edits, the topics containing
        a term within that many edits of it instead (fuzzy, see `edits.within_edits`)."""
        key = (word, maxdist)
        found = self._matches.get(key)
        if found is None:
            terms = within_edits(word, maxdist, self._terms) if maxdist else [word] if word in self._codes else []
            codes: dict[str, set[int]] = {}
            for term in terms:
                for facet, code in self._codes[term]:
                    codes.setdefault(facet, set()).add(code)
            found = tuple(TopicMatch(facet, tuple(sorted(held)), maxdist > 0) for facet, held in codes.items())
            with self._lock:  # (searches of several threads share this index)
                if len(self._matches) >= MATCHES_KEPT:
                    del self._matches[next(iter(self._matches))]  # the oldest
                self._matches[key] = found
        return found
