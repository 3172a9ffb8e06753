"""One unit of work: a transaction that knows who is acting, commits, then updates the search index.

    with unit_of_work("editor@example.org", staff_id=3) as uow:
        create_listing(uow.session, data, actor=uow.actor)

On leaving the block without an error the session commits and the pending index changes (the
outbox rows the services recorded in the same transaction) are applied before the block returns;
on an error it rolls back and nothing is applied. Audit entries added in the unit of work are
credited to `staff_id`. Views, the command line, importers and the test factory all write this way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import event
from sqlmodel import Session

from directory.db import get_engine
from directory.models import AuditEntry
from directory.search import get_searcher
from directory.search.sync import apply_pending


@dataclass
class UnitOfWork:
    session: Session
    actor: str
    staff_id: int | None = None

    def commit(self) -> None:
        """Commit what was written so far, then apply its index changes (a long import commits per
        batch and calls this at the end)."""
        self.session.commit()
        apply_pending(get_engine(), get_searcher(current_app._get_current_object()))


@contextmanager
def unit_of_work(actor: str, *, staff_id: int | None = None, session: Session | None = None) -> Iterator[UnitOfWork]:
    """A unit of work for `actor` (a staff email, "cli", an importer's name) on `session` (by default
    a new one, closed at the end; a request passes its own)."""
    owned = session is None
    session = session if session is not None else Session(get_engine(), expire_on_commit=False)
    work = UnitOfWork(session=session, actor=actor, staff_id=staff_id)

    def credit(flushing: Session, _context, _instances) -> None:
        for obj in flushing.new:
            if isinstance(obj, AuditEntry) and obj.staff_id is None:
                obj.staff_id = staff_id

    if staff_id is not None:
        event.listen(session, "before_flush", credit)
    try:
        yield work
        work.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        if staff_id is not None:
            event.remove(session, "before_flush", credit)
        if owned:
            session.close()
