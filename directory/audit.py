"""The audit trail: read it, export it, and keep it append-only.

Append-only is enforced twice:
- by the database: migration 0006 adds triggers that refuse every UPDATE and DELETE on
  `auditentry` (and TRUNCATE on PostgreSQL), raw SQL and other clients included, with an integrity
  error saying "append-only". Only INSERT works; correcting an entry means adding another.
- by the ORM, earlier and with a clearer error: importing this module makes SQLAlchemy refuse to
  update or delete an `AuditEntry` (unit-of-work flushes raise from `before_update`/`before_delete`;
  ORM bulk `update()`/`delete()` statements raise from `do_orm_execute`) with `AuditImmutable`.
Removing the triggers takes a schema change (downgrading migration 0006), which a database role
without DDL rights on `auditentry` cannot make.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from typing import TextIO

from sqlalchemy import event, inspect, or_, select
from sqlmodel import Session

from directory.csvcells import neutralise_row
from directory.models import AuditEntry

CSV_COLUMNS = ("at", "actor", "action", "listing_id", "field", "before", "after")


class AuditImmutable(RuntimeError):
    """Audit entries are written once and never edited or deleted through the app."""


@event.listens_for(AuditEntry, "before_update")
def _refuse_update(_mapper, _connection, target) -> None:
    raise AuditImmutable(f"audit entry {target.id} cannot be edited")


@event.listens_for(AuditEntry, "before_delete")
def _refuse_delete(_mapper, _connection, target) -> None:
    raise AuditImmutable(f"audit entry {target.id} cannot be deleted")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_change(state) -> None:
    if (state.is_update or state.is_delete) and state.bind_mapper is inspect(AuditEntry):
        raise AuditImmutable("audit entries cannot be edited or deleted")


def _as_utc(moment: date | datetime) -> datetime:
    if not isinstance(moment, datetime):
        return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _filtered(*, listing_id=None, actor=None, action=None, since=None, until=None):
    query = select(AuditEntry)
    if listing_id is not None:
        query = query.where(AuditEntry.listing_id == listing_id)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if action is not None:
        # "verify" also finds "verify.changed" and "verify.no_change".
        query = query.where(or_(AuditEntry.action == action, AuditEntry.action.startswith(f"{action}.")))
    if since is not None:
        query = query.where(AuditEntry.at >= _as_utc(since))
    if until is not None:
        query = query.where(AuditEntry.at < _as_utc(until))
    return query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


def entries(session: Session, *, listing_id: int | None = None, actor: str | None = None,
            action: str | None = None, since: date | datetime | None = None,
            until: date | datetime | None = None, limit: int = 100, offset: int = 0) -> list[AuditEntry]:
    """Audit entries, newest first. `since` is inclusive, `until` exclusive (a date means its
    midnight UTC); `action` matches exactly or as a prefix before a dot."""
    query = _filtered(listing_id=listing_id, actor=actor, action=action, since=since, until=until)
    return list(session.execute(query.limit(limit).offset(offset)).scalars())


def _cell(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def export_csv(session: Session, stream: TextIO, *, listing_id: int | None = None, actor: str | None = None,
               action: str | None = None, since: date | datetime | None = None,
               until: date | datetime | None = None, batch_size: int = 1000) -> int:
    """Write matching entries, newest first, as CSV with one row per changed field (an entry with no
    field changes gets one row with an empty field); returns the rows written, header excluded.

    Every cell goes through `csvcells.neutralise`, so an actor or value such as `=HYPERLINK(...)`
    is shown as text by a spreadsheet, not run as a formula (`csvcells.restore` gives it back)."""
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    query = _filtered(listing_id=listing_id, actor=actor, action=action, since=since, until=until)
    rows = 0
    for entry in session.execute(query.execution_options(yield_per=batch_size)).scalars():
        base = [_as_utc(entry.at).isoformat(), entry.actor, entry.action,
                "" if entry.listing_id is None else entry.listing_id]
        changes = entry.changes or {"": [None, None]}
        for field, pair in changes.items():
            before, after = pair if isinstance(pair, list | tuple) and len(pair) == 2 else (None, pair)
            writer.writerow(neutralise_row([*base, field, _cell(before), _cell(after)]))
            rows += 1
    return rows
