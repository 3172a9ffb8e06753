"""What every search backend promises: the `Searcher` verbs and the results they return.

Backends (`search/whoosh/`, `search/postgres/`) implement this and import only the shared modules
of `search/`; `search/__init__.py` names them in its registry and opens the configured one.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from directory.search.documents import ListingDoc
from directory.search.query import SearchQuery

EVERY_HIT = 10**9  # a page size that holds every match


@dataclass
class Hit:
    lid: int
    distance_mi: float | None
    score: float
    # The listing's location nearest to the place searched (ties: the lowest id); None without a place.
    location_id: int | None = None


@dataclass
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


class IndexUnusable(RuntimeError):
    """The stored index cannot be opened as it is (missing parts, unreadable files, another
    version): `search.heal` rebuilds it from the database when the searcher is first opened."""


class SnapshotFormatError(IndexUnusable):
    """The stored index was written by another version of this code: it needs a reindex."""


class Searcher(ABC):
    """A derived, rebuildable index of listings. The database stays the source of truth.

    Opened with `rebuilding=True`, a backend does not refuse an index of another version (it is
    about to be replaced) and loads nothing the rebuild replaces.
    """

    name: str

    @abstractmethod
    def search(self, query: SearchQuery) -> SearchResult:
        """Ranked hits (listing ids, miles, scores), the total and facet counts."""

    def matching_ids(self, query: SearchQuery) -> set[int]:
        """Every listing the search finds, unordered, without building a page of hits (for the
        FHIR API, which narrows by them). By default the ids of a search asked for every hit."""
        return {hit.lid for hit in self.search(replace(query, page=1, per_page=EVERY_HIT, facets=False)).hits}

    @abstractmethod
    def update(self, docs: dict[int, ListingDoc | None]) -> None:
        """Write these documents; a None value removes that listing from the index."""

    @abstractmethod
    def clear(self) -> None:
        """Remove every document."""

    @abstractmethod
    def rebuild(self, batches: Iterable[list[ListingDoc]], watermark: int) -> None:
        """Replace the whole index with these documents, read from the database when its change
        log stood at `watermark`. Built beside the live index, so searches go on meanwhile."""

    def writing(self) -> contextlib.AbstractContextManager:
        """Held while pending changes are read, turned into documents and written, so that two
        processes never write an older document over a newer one (no-op by default)."""
        return contextlib.nullcontext()

    def refresh(self) -> None:  # noqa: B027  (optional for backends)
        """Pick up changes committed by other processes (no-op by default)."""

    def close(self) -> None:  # noqa: B027
        """Release files and connections."""

    def warm(self) -> None:  # noqa: B027  (optional for backends)
        """Make now, and again whenever the index is reloaded, what searches would otherwise make
        at first use and keep: a serving process calls it once, so that no patient's search pays
        for it (no-op by default)."""

    @abstractmethod
    def is_empty(self) -> bool:
        """Whether the index holds no listing at all (a new index, or one emptied by accident)."""

    @abstractmethod
    def indexed_digests(self) -> dict[int, str]:
        """Listing id -> digest of the document the index holds (for check-index)."""

    def derived_drift(self) -> list[str]:
        """Structures this backend keeps up by deltas that no longer equal a count made afresh
        from its own rows (empty when all agree; a check for `check-index`)."""
        return []

    def table_ids(self) -> set[int] | None:
        """Listing ids of a second structure that must agree with the documents (None: no such
        structure)."""
        return None
