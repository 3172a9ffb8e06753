"""The outbox: keeping the derived index in step with the database, whichever the backend.

A write records its pending change in its own transaction (`record_change`); after the commit,
`apply_pending` writes the changed documents; `reindex` asks the backend to rebuild from every
document; `check_index` compares the database with what the backend holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from directory.models import IndexChange, utcnow
from directory.read.cards import rebuild_cards, write_cards
from directory.search.contract import Searcher
from directory.search.documents import ListingDoc, iter_all_docs, load_docs

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
            # The stored result cards change with the documents, in this transaction.
            write_cards(session.connection(), docs, {lid for lid, doc in docs.items() if doc is not None})
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


def reindex(engine: Engine, searcher: Searcher, progress: Progress | None = None,
            batch_size: int = 2000) -> int:
    """Rebuild `searcher`'s index and the stored result cards from the database; returns
    listings indexed.

    The backend builds beside the live index and swaps it in, so searches keep working meanwhile.
    Changes committed after the build started are applied again afterwards.
    """
    count = 0
    session = Session(engine)
    try:
        watermark = latest_change(session)

        def batches() -> Iterator[list[ListingDoc]]:
            nonlocal count
            for docs in iter_all_docs(session, batch_size):
                yield docs
                count += len(docs)
                if progress:
                    progress(len(docs))
            session.close()  # the database is read: end the read before the backend swaps

        searcher.rebuild(batches(), watermark)
    finally:
        session.close()
    rebuild_cards(engine, searcher.writing, batch_size)
    settle_changes(engine, watermark)
    return count


def rebuild_index(app: Flask, progress: Progress | None = None) -> int:
    """Rebuild the app's index from the database; returns listings indexed.

    With the app's searcher when it is open (it then loads the new index), else with one opened
    only to rebuild, which does not refuse an index of another version.
    """
    engine = app.extensions["directory.engine"]
    searcher = app.extensions.get("directory.searcher")
    if searcher is not None:
        count = reindex(engine, searcher, progress)
        searcher.refresh()
        return count
    searcher = app.extensions["directory.search.backend"](app, rebuilding=True)
    try:
        return reindex(engine, searcher, progress)
    finally:
        searcher.close()


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


def check_index(engine: Engine, searcher: Searcher, progress: Progress | None = None) -> DriftReport:
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
