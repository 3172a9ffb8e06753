"""Payers' Plan-Net directories harvested for network participation: sources, runs and their
checkpoints, and each source's claims about listings' networks."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from directory.models.common import utcnow

HARVEST_STATES = ("running", "done", "failed")


class HarvestSource(SQLModel, table=True):
    """A payer's Plan-Net provider directory (a FHIR base URL) harvested for network participation
    (`flask --app wsgi harvest`). `payer`, when set, limits the networks it speaks for to that payer's;
    `high_water` is the latest `meta.lastUpdated` a finished run saw (the next incremental run asks
    for what changed after it)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    base_url: str
    payer: str | None = None
    high_water: datetime | None = None
    every_hours: int = 24
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_status: str | None = Field(default=None, max_length=16)
    last_counts: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    last_errors: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    next_due_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (CheckConstraint("every_hours >= 1", name="ck_harvestsource_every_hours"),)


class HarvestRun(SQLModel, table=True):
    """One harvest of a source. `stage` and `next_url` are its checkpoint, committed with each page
    applied: a run that stopped (crash, Ctrl-C) resumes at the page after the last one committed."""

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="harvestsource.id", index=True, ondelete="CASCADE")
    full: bool = True
    dry_run: bool = False
    since: datetime | None = None  # the high-water mark the run asked from (incremental runs)
    state: str = Field(default="running", max_length=16)
    stage: int = 0  # index of the query being paged (networks, plans, roles, affiliations)
    next_url: str | None = None
    pages: int = 0
    newest: datetime | None = None  # the latest meta.lastUpdated seen so far
    counts: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    errors: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None

    __table_args__ = (
        CheckConstraint("state in ('running', 'done', 'failed')", name="ck_harvestrun_state"),
        Index("ix_harvestrun_source_state", "source_id", "state"),
    )


class HarvestSeen(SQLModel, table=True):
    """A (listing, network) a run found, written with its page, with what the run's resources said
    of it so far (merged over pages: a provider's roles may span several); a full run ends the claims
    it did not find, then forgets these rows. `network_id` 0 marks a listing the run saw whole."""

    run_id: int = Field(primary_key=True, foreign_key="harvestrun.id", ondelete="CASCADE")
    listing_id: int = Field(primary_key=True)
    network_id: int = Field(primary_key=True)
    period_start: date | None = None
    period_end: date | None = None
    accepting_new_patients: bool | None = None


class NetworkClaim(SQLModel, table=True):
    """A source's assertion that a listing is in one of its networks, with the period it gives and
    whether the listing accepts new patients in that network (Plan-Net `newpatients`). Never deleted:
    a claim a full harvest no longer finds is ended (`period_end` closed, `ended_at` set) and the
    listing's live `Participation` row goes, so every reader stops counting it."""

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="harvestsource.id", ondelete="CASCADE")
    listing_id: int = Field(foreign_key="listing.id", index=True, ondelete="CASCADE")
    network_id: int = Field(foreign_key="network.id", ondelete="CASCADE")
    period_start: date | None = None
    period_end: date | None = None
    accepting_new_patients: bool | None = None
    first_seen_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None

    __table_args__ = (UniqueConstraint("source_id", "listing_id", "network_id", name="uq_networkclaim"),)
