"""The embedded backend: Whoosh for text, numpy listing tables for place and filters.

Files under INDEX_DIR: `whoosh/` (the text index) and `listings.npz` (the table snapshot, with the
index-change sequence number it reflects). Each process loads the snapshot and keeps a small
overlay of the listings changed since, read from the database's change log, so a write made by any
worker is visible to every worker at its next search.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import shutil
import threading
import time
import warnings
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from directory.models import IndexChange
from directory.search.codebook import Codebook
from directory.search.contract import IndexUnusable, Searcher, SearchResult, SnapshotFormatError
from directory.search.documents import ListingDoc, load_docs
from directory.search.query import SearchQuery
from directory.search.text import analyzer
from directory.search.topics import TopicIndex, TopicMatch
from directory.search.whoosh.arrays import unique
from directory.search.whoosh.engine import Matches, combine, evaluate
from directory.search.whoosh.segments import PostingCache, read_lid_column, stored_digests
from directory.search.whoosh.table import ListingTable
from directory.search.whoosh.text import TextHits, TextMatcher, Word, open_index, whoosh_fields, write_docs

SNAPSHOT = "listings.npz"
# Plain SQL on the driver's connection: this runs before every search, and SQLAlchemy's statement
# execution cost three times what the database takes to answer it.
LATEST_CHANGE = f"SELECT max(seq) FROM {IndexChange.__tablename__}"
TEXT_DIR = "whoosh"


class WhooshSearcher(Searcher):
    name = "whoosh"

    def __init__(self, index_dir: str | Path, engine: Engine, rebuilding: bool = False):
        self.dir = Path(index_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.engine = engine
        self.codebook = Codebook.current()
        self._lock = threading.RLock()
        self._write_lock = threading.Lock()
        self._cache = PostingCache()
        self._snapshot_key: tuple | None = None
        self.topics = TopicIndex(self.codebook.concepts, self.codebook.specialties, analyzer())
        self.matcher: TextMatcher | None = None
        self._warm = False  # see warm()
        if not rebuilding:  # a rebuild replaces the snapshot (of whatever version) unread
            self._open_checked()

    # -- state ---------------------------------------------------------------------------------

    def _open(self) -> None:
        """(Re)load the snapshot and the text index, and drop the overlay."""
        path = self.dir / SNAPSHOT
        if path.exists():
            stat = path.stat()
            self._snapshot_key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            self.base, meta = ListingTable.load(path)
            self.watermark = meta.get("watermark", 0)
            if self._warm:
                self.base.prepare()
        else:
            self._snapshot_key = None
            self.base = ListingTable.empty(self.codebook)
            self.watermark = 0
        self.base_alive: np.ndarray | None = None  # False where the overlay replaces a listing
        self.base_dead: np.ndarray | None = None  # those positions
        self.overlay_docs: dict[int, ListingDoc | None] = {}
        self.overlay = ListingTable.empty(self.codebook)
        self._count_live_topics()
        if self.matcher is not None:
            self.matcher.close()
        self.ix = open_index(self.dir / TEXT_DIR)
        self.matcher = TextMatcher(self.ix, self._cache, self.topics)

    def _open_checked(self) -> None:
        """Open, then check the text index (`_check_text`); a file that cannot be read makes the
        index unusable (`search.heal` rebuilds it)."""
        unusable = None
        with warnings.catch_warnings():
            # Whoosh and numpy raise with the damaged file still open (in the error's frames): it is
            # closed when they are collected, here, without a ResourceWarning.
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                self._open()
                self._check_text()
            except SnapshotFormatError:
                self.close()
                raise
            except Exception as error:  # noqa: BLE001  (whatever a damaged file raises)
                self.close()
                unusable = IndexUnusable(f"the Whoosh index in {self.dir} is unreadable "
                                         f"({type(error).__name__}: {str(error)[:200]})")
            if unusable is not None:
                gc.collect()
        if unusable is not None:
            raise unusable

    def _check_text(self) -> None:
        """Read, in every segment, what searches read at both ends of its files: the listing-id
        column (every id a positive 32-bit number, none twice), the first and last stored
        documents, each field's term table and the postings of its first and last terms (the last
        field's last term ends the postings file). A truncated or overwritten file fails here, at
        open, instead of giving wrong answers later; it costs about what the first searches read
        anyway (the term tables stay loaded for them)."""
        for segreader, _offset in self.matcher._leaves():
            count = segreader.doc_count_all()
            if not count:
                continue
            column = segreader.column_reader("lid", translate=False)
            lids = read_lid_column(column, count)
            deleted = segreader.segment().deleted_docs() if segreader.segment() else None
            if deleted:
                lids = np.delete(lids, np.fromiter(deleted, dtype=np.int64))
            if len(lids) and (lids.min() < 1 or lids.max() > 2**31 - 1 or len(unique(lids)) != len(lids)):
                raise ValueError(f"segment {segreader.segment().segment_id()}: listing ids out of range or repeated")
            for docnum in {0, count - 1}:
                if not isinstance(segreader.stored_fields(docnum).get("digest"), str):
                    raise ValueError(f"segment {segreader.segment().segment_id()}: stored document {docnum} "
                                     f"has no digest")
            for field in ("name", "products", "place"):
                words = self.matcher._lexicon(segreader, field)[0]
                for word in {words[0], words[-1]} if words else ():
                    segreader.postings(field, word).all_ids()

    def _snapshot_changed(self) -> bool:
        path = self.dir / SNAPSHOT
        if not path.exists():
            return self._snapshot_key is not None
        stat = path.stat()
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size) != self._snapshot_key

    def refresh(self, text: bool = True) -> None:
        """Catch up with the database's change log and with other processes' index commits;
        `text=False` leaves the text index to the next search that reads it (a search without
        words reads only the tables: it saves listing the index folder)."""
        with self._lock:
            if self._snapshot_changed():
                self._open()
            latest = self._latest_change()
            if latest > self.watermark:
                with Session(self.engine) as session:
                    changed = session.execute(
                        select(IndexChange.listing_id)
                        .where(IndexChange.seq > self.watermark, IndexChange.seq <= latest)
                        .distinct()
                    ).scalars()
                    self._apply_overlay(load_docs(session, list(changed)))
                    self.watermark = latest
            if text:
                self.matcher.refresh()

    def _latest_change(self) -> int:
        """The change log's last sequence number (0 when empty)."""
        dbapi_connection = self.engine.raw_connection()  # back to the pool (rolled back) on close
        try:
            with contextlib.closing(dbapi_connection.cursor()) as cursor:
                cursor.execute(LATEST_CHANGE)
                return cursor.fetchone()[0] or 0
        finally:
            dbapi_connection.close()

    def _apply_overlay(self, docs: dict[int, ListingDoc | None]) -> None:
        self.overlay_docs.update(docs)
        live = [d for d in self.overlay_docs.values() if d is not None]
        self.overlay = ListingTable.build(live, self.codebook)
        changed = np.fromiter(self.overlay_docs, dtype=np.int64, count=len(self.overlay_docs))
        self.base_alive = ~np.isin(self.base.lids, changed)
        self.base_dead = np.flatnonzero(~self.base_alive).astype(np.int32)
        self._count_live_topics()

    def _count_live_topics(self) -> None:
        """Live listings per topic code, over the snapshot and the overlay (so a listing scores the
        same whichever table holds it); counted once per change, not per search."""
        dead = self.base_dead
        self.live_topic_counts = {}
        for facet, base_counts in self.base.topic_counts.items():
            counts = base_counts.astype(np.int64)
            if dead is not None and len(dead):
                counts -= self.base.topic_sets[facet].counts(dead)[: len(counts)]
            counts += self.overlay.topic_counts[facet][: len(counts)]
            self.live_topic_counts[facet] = counts

    def _topic_df(self, topic: TopicMatch) -> int:
        """Live listings holding any of the topic's codes (summed per code)."""
        return int(self.live_topic_counts[topic.facet][list(topic.codes)].sum())

    def listing_ids(self) -> set[int]:
        """Every listing id this searcher would return (for check-index)."""
        with self._lock:
            base = self.base.lids if self.base_alive is None else self.base.lids[self.base_alive]
            return set(base.tolist()) | set(self.overlay.lids.tolist())

    def indexed_digests(self) -> dict[int, str]:
        self.refresh()
        with self.ix.searcher() as whoosh:
            return stored_digests(whoosh.reader())

    def table_ids(self) -> set[int]:
        self.refresh()
        return self.listing_ids()

    def is_empty(self) -> bool:
        return self.ix.doc_count() == 0

    # -- Searcher ------------------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchResult:
        return combine(self._matches(query), query)

    def matching_ids(self, query: SearchQuery) -> set[int]:
        """The listing ids of every match, read from the tables' arrays: no order, no hits. (In
        name order every match is evaluated; nearest first by place alone stops at a page.)"""
        parts = self._matches(replace(query, sort="name", facets=False))
        return set(np.concatenate([part.table.lids[part.pos] for part in parts]).tolist())

    def _matches(self, query: SearchQuery) -> list[Matches]:
        """The matches of the snapshot's table and of the overlay of listings changed since."""
        self.refresh(text=bool(query.q))
        with self._lock:
            base, alive, dead, overlay = self.base, self.base_alive, self.base_dead, self.overlay
            text = self.matcher.match(query.q, self._topic_df) if query.q else None
            if query.q and text is None:
                text = TextHits([Word([], [], [])])  # text with no searchable word matches nothing
        parts = [evaluate(base, query, self.codebook, text, alive, dead)]
        if overlay.size:
            parts.append(evaluate(overlay, query, self.codebook, text))
        return parts

    @contextlib.contextmanager
    def writing(self):
        """An exclusive lock across processes (flock on a file beside the index) and threads."""
        with self._write_lock, open(self.dir / "apply.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def update(self, docs: dict[int, ListingDoc | None]) -> None:
        live = [d for d in docs.values() if d is not None]
        removed = [lid for lid, d in docs.items() if d is None]
        with self._lock:
            write_docs(self.ix, live, removed)
            self.matcher.refresh()

    def clear(self) -> None:
        with self._lock:
            self.matcher.close()
            self.ix = open_index(self.dir / TEXT_DIR, create=True)
            self.matcher = TextMatcher(self.ix, self._cache, self.topics)
            (self.dir / SNAPSHOT).unlink(missing_ok=True)
            self._open()

    def rebuild(self, batches: Iterable[list[ListingDoc]], watermark: int) -> None:
        """Build the text index and the listing table beside the live ones, then swap them in;
        this searcher (and every other process) loads them at its next refresh."""
        building = self.dir / (TEXT_DIR + ".building")
        shutil.rmtree(building, ignore_errors=True)
        ix = open_index(building, create=True)
        tables = []
        # Separate files, not one compound file: Whoosh reads a compound segment's parts into memory.
        writer = ix.writer(limitmb=256, compound=False)
        try:
            for docs in batches:
                for doc in docs:
                    writer.add_document(**whoosh_fields(doc))
                tables.append(ListingTable.build(docs, self.codebook))
            writer.commit()
        except BaseException:
            writer.cancel()
            ix.close()
            shutil.rmtree(building, ignore_errors=True)
            raise
        ix.close()
        table = ListingTable.concat(tables) if tables else ListingTable.empty(self.codebook)
        live, old = self.dir / TEXT_DIR, self.dir / (TEXT_DIR + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if live.exists():
            live.rename(old)
        building.rename(live)
        table.save(self.dir / SNAPSHOT, watermark=watermark, built_at=int(time.time() * 1000))
        shutil.rmtree(old, ignore_errors=True)

    def warm(self) -> None:
        """The snapshot's arrays made at first use (facet numbers, the map of ids, the rows' topic
        words), made now and at every reload of the snapshot."""
        with self._lock:
            self._warm = True
            self.base.prepare()

    def close(self) -> None:
        with self._lock:
            if self.matcher is not None:
                self.matcher.close()
