"""Topics: what a listing treats or offers (vocabulary concepts and NUCC specialties).

Nearly every listing has some topic words (rheumatology, IVIG, myositis...), so their posting lists
would be long and slow to walk in pure Python, and would make the main index ten times larger.
Instead a listing's topics are bit sets in the listing table, and user words are matched against a
small in-memory Whoosh index of the topic texts (same analyzer: stems, synonyms, fuzzy terms).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from whoosh import fields
from whoosh.codec.base import Automata
from whoosh.filedb.filestore import RamStorage

from directory import reference


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

    def match(self, word: str, dfa=None) -> list[TopicMatch]:
        """Topics containing `word` (an analyzed term); with a Levenshtein automaton, the topics
        containing a term it accepts instead (fuzzy)."""
        reader = self.searcher.reader()
        if dfa is None:
            terms = [word] if ("body", word) in reader else []
        else:
            terms = sorted(set(Automata.find_matches(dfa, reader.cursor("body"))))
        codes: dict[str, set[int]] = {}
        for term in terms:
            for docnum in reader.postings("body", term).all_ids():
                stored = self._stored[docnum]
                codes.setdefault(stored["facet"], set()).add(stored["code"])
        return [TopicMatch(facet, tuple(sorted(found)), dfa is not None) for facet, found in codes.items()]
