"""The geocoding queue: a location's address waiting for (or rejected by) the street geocoder."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from directory.models.common import utcnow


class GeocodeTask(SQLModel, table=True):
    """A location whose address is to be geocoded (`flask --app wsgi geocode`), one row per location.

    `address_hash` is the address queued; a worker claims a pending row by setting `claimed_by` and
    `claimed_at`, and a claim older than the worker's timeout (or of a worker that has died) is taken
    again. `last_error` holds the reason of a rejection or the last network error."""

    location_id: int = Field(primary_key=True, foreign_key="location.id", ondelete="CASCADE")
    address_hash: str = Field(max_length=64, index=True)
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    last_error: str | None = None
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        CheckConstraint("state in ('pending', 'done', 'failed', 'rejected')", name="ck_geocodetask_state"),
        CheckConstraint("attempts >= 0", name="ck_geocodetask_attempts"),
        Index("ix_geocodetask_due", "state", "next_attempt_at"),
    )
