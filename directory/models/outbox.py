"""Rows derived from the listings and rewritten by the outbox: the queue of listings whose search
document (and card) must be rewritten, and the public cards and places read by result pages."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from directory.models.common import utcnow


class IndexChange(SQLModel, table=True):
    """A listing whose search document must be rewritten; written in the same transaction as it."""

    seq: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(index=True)
    created_at: datetime = Field(default_factory=utcnow)
    applied_at: datetime | None = Field(default=None, index=True)


class PublicCard(SQLModel, table=True):
    """A listing's search-result card as ready JSON, derived from its rows like the search index
    and written with it by the outbox (`directory/read/cards.py`); active listings only. No foreign
    keys: the outbox may write a card while another transaction deletes a row it was made from
    (the change that deleted it rewrites the card next), and a page joins `listing` anyway."""

    listing_id: int = Field(primary_key=True)
    head: str  # the card's JSON members before "location" (id .. npi)
    tail: str  # its members between "location" and "stale" (specialties .. last_verified)
    last_verified: date | None = None  # "stale" depends on the day it is read
    demo: bool = False
    location_id: int | None = None  # the place shown when no place was searched


class PublicPlace(SQLModel, table=True):
    """A location as a card shows it (ready JSON), written with its listing's card."""

    location_id: int = Field(primary_key=True)
    listing_id: int = Field(index=True)  # the listing that owns the location
    body: str
