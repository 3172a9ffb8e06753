"""Keeping the derived index in step with the database: pending changes, reindex, drift check."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from directory.models import IndexChange, utcnow
from directory.search import Searcher
from directory.search.documents import iter_all_docs, load_docs
from directory.search.table import Codebook, ListingTable
from directory.search.text import open_index, whoosh_fields
from directory.search.whoosh_backend import SNAPSHOT, TEXT_DIR

Progress = Callable[[int], None]


def record_change(session: Session, listing_id: int) -> None:
    """Note, in the caller's transaction, that this listing's search document must be rewritten."""
    session.add(IndexChange(listing_id=listing_id))


def apply_pending(engine: Engine, searcher: Searcher, batch_size: int = 2000) -> int:
    """Write every pending change to the index, then mark it applied; returns how many."""
    applied = 0
    while True:
        with searcher.writing(), Session(engine) as session:
            rows = session.execute(
                select(IndexChange.seq, IndexChange.listing_id)
                .where(IndexChange.applied_at.is_(None))
                .order_by(IndexChange.seq)
                .limit(batch_size)
            ).all()
            if not rows:
                return applied
            docs = load_docs(session, {lid for _, lid in rows})
            searcher.update(docs)
            session.execute(
                update(IndexChange)
                .where(IndexChange.seq.in_([seq for seq, _ in rows]))
                .values(applied_at=utcnow())
            )
            session.commit()
            applied += len(rows)


def latest_change(session: Session) -> int:
    return session.execute(select(func.max(IndexChange.seq))).scalar() or 0


def reindex(engine: Engine, index_dir: str | Path, progress: Progress | None = None,
            batch_size: int = 2000) -> int:
    """Rebuild the text index and the listing table from the database; returns listings indexed.

    Builds beside the live index and swaps it in, so searches keep working meanwhile. Changes
    committed after the build started are applied again afterwards.
    """
    root = Path(index_dir)
    root.mkdir(parents=True, exist_ok=True)
    building = root / (TEXT_DIR + ".building")
    shutil.rmtree(building, ignore_errors=True)
    ix = open_index(building, create=True)
    codebook = Codebook.current()
    tables, count = [], 0
    # Separate files, not one compound file: Whoosh reads a compound segment's parts into memory.
    writer = ix.writer(limitmb=256, compound=False)
    try:
        with Session(engine) as session:
            watermark = latest_change(session)
            for docs in iter_all_docs(session, batch_size):
                for doc in docs:
                    writer.add_document(**whoosh_fields(doc))
                tables.append(ListingTable.build(docs, codebook))
                count += len(docs)
                if progress:
                    progress(len(docs))
        writer.commit()
    except BaseException:
        writer.cancel()
        ix.close()
        shutil.rmtree(building, ignore_errors=True)
        raise
    ix.close()
    table = ListingTable.concat(tables) if tables else ListingTable.empty(codebook)
    live, old = root / TEXT_DIR, root / (TEXT_DIR + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if live.exists():
        live.rename(old)
    building.rename(live)
    table.save(root / SNAPSHOT, watermark=watermark, built_at=int(time.time() * 1000))
    shutil.rmtree(old, ignore_errors=True)
    settle_changes(engine, watermark)
    return count


def settle_changes(engine: Engine, watermark: int) -> None:
    """After a rebuild that read the database at `watermark`: changes up to it are in the new
    index; later ones may have gone to the old index only, so they are pending again."""
    with Session(engine) as session:
        session.execute(
            update(IndexChange).where(IndexChange.seq <= watermark).values(applied_at=utcnow())
        )
        session.execute(
            update(IndexChange).where(IndexChange.seq > watermark).values(applied_at=None)
        )
        session.commit()


@dataclass
class DriftReport:
    database: int = 0
    indexed: int = 0
    missing: list[int] = field(default_factory=list)
    extra: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    table_missing: list[int] = field(default_factory=list)
    table_extra: list[int] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)
    pending: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.stale or self.table_missing
                    or self.table_extra or self.derived or self.pending)


def check_index(engine: Engine, searcher, progress: Progress | None = None) -> DriftReport:
    """Compare every active listing's document with the text index and the listing table."""
    report = DriftReport()
    indexed = searcher.indexed_digests()
    table_ids = searcher.table_ids()
    report.indexed = len(indexed)
    seen: set[int] = set()
    with Session(engine) as session:
        report.pending = session.execute(
            select(func.count()).select_from(IndexChange).where(IndexChange.applied_at.is_(None))
        ).scalar_one()
        for docs in iter_all_docs(session):
            for doc in docs:
                seen.add(doc.lid)
                digest = indexed.get(doc.lid)
                if digest is None:
                    report.missing.append(doc.lid)
                elif digest != doc.digest:
                    report.stale.append(doc.lid)
            if progress:
                progress(len(docs))
    report.database = len(seen)
    report.extra = sorted(set(indexed) - seen)
    if table_ids is not None:
        report.table_missing = sorted(seen - table_ids)
        report.table_extra = sorted(table_ids - seen)
    report.derived = searcher.derived_drift()
    return report
