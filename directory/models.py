"""Database tables: the source of truth (modelled on HL7 FHIR Plan-Net, simplified).

A `Listing` is what a user finds: an organization (infusion centre, home-infusion pharmacy,
hospital unit, practice) or a practitioner. Kind-specific fields live in `Organization` and
`Practitioner`, keyed by the listing id, so that one id space serves search, audit and verification.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import JSON, CheckConstraint, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

KINDS = ("organization", "practitioner")
ORG_TYPES = ("infusion_center", "home_infusion", "hospital_infusion", "specialty_pharmacy", "practice")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
VERIFICATION_METHODS = ("phone", "email", "attestation", "nppes", "import")
STAFF_ROLES = ("editor", "verifier", "admin")
GEO_SOURCES = ("zip_centroid", "geocoder")
GEOCODE_STATES = ("pending", "done", "failed", "rejected")
STALE_AFTER_DAYS = 90
# Text with a character beyond ASCII (a partial index's predicate; directory/fhir/narrowing.py queries it).
NON_ASCII = {"sqlite": "{} GLOB '*[^\x01-\x7f]*'", "postgresql": "{} ~ '[^\\x01-\\x7f]'"}
MAX_ID = 2**31 - 1  # the largest id every database here can hold: id columns are INTEGER, 32-bit on PostgreSQL


def utcnow() -> datetime:
    return datetime.now(UTC)


class Specialty(SQLModel, table=True):
    """A NUCC Health Care Provider Taxonomy code."""

    code: str = Field(primary_key=True, max_length=10)
    display: str
    group: str
    section: str = Field(default="individual")

    __table_args__ = (
        CheckConstraint("length(code) = 10", name="ck_specialty_code_len"),
        CheckConstraint("section in ('individual', 'organization')", name="ck_specialty_section"),
    )


class Network(SQLModel, table=True):
    """A payer's network / plan product that listings participate in."""

    id: int | None = Field(default=None, primary_key=True)
    payer: str
    name: str
    plan_type: str = Field(max_length=32)
    is_demo: bool = False
    updated_at: datetime = Field(default_factory=utcnow)  # FHIR meta.lastUpdated of its resources

    __table_args__ = (UniqueConstraint("payer", "name", name="uq_network_payer_name"),)


class Listing(SQLModel, table=True):
    """A searchable provider: organization or practitioner, with its verification state."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    npi: str = Field(max_length=10, unique=True)
    name: str
    active: bool = True
    accepting_new_patients: bool = False
    telehealth: bool = False
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    services: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    website: str | None = None
    source: str = Field(default="staff", max_length=16)
    is_demo: bool = False
    last_verified: date | None = None
    verified_by: str | None = None
    verification_method: str | None = Field(default=None, max_length=16)
    version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        CheckConstraint("kind in ('organization', 'practitioner')", name="ck_listing_kind"),
        CheckConstraint("length(npi) = 10", name="ck_listing_npi_len"),
        CheckConstraint("version >= 1", name="ck_listing_version"),
        Index("ix_listing_last_verified", "last_verified", "id"),  # the verification queue's order
        # FHIR string searches (migration 0010: `name COLLATE NOCASE` on SQLite, `lower(name) COLLATE "C"`
        # on PostgreSQL; the rows beyond ASCII apart).
        Index("ix_listing_name_folded", "name"),
        Index("ix_listing_name_non_ascii", "id", sqlite_where=text(NON_ASCII["sqlite"].format("name")),
              postgresql_where=text(NON_ASCII["postgresql"].format("name"))),
        # Which of many listings are active, without reading their rows (FHIR near; migration 0013).
        Index("ix_listing_id_active", "id", "active"),
        CheckConstraint(
            "verification_method is null or verification_method in "
            "('phone', 'email', 'attestation', 'nppes', 'import')",
            name="ck_listing_verification_method",
        ),
    )


class Organization(SQLModel, table=True):
    listing_id: int = Field(primary_key=True, foreign_key="listing.id", ondelete="CASCADE")
    org_type: str = Field(max_length=32)
    ivig_products: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    chairs: int | None = None
    pediatric: bool = False
    prior_auth_help: bool = False

    __table_args__ = (
        CheckConstraint("chairs is null or chairs >= 0", name="ck_org_chairs"),
        CheckConstraint(
            "org_type in ('infusion_center', 'home_infusion', 'hospital_infusion', "
            "'specialty_pharmacy', 'practice')",
            name="ck_org_type",
        ),
    )


class Practitioner(SQLModel, table=True):
    listing_id: int = Field(primary_key=True, foreign_key="listing.id", ondelete="CASCADE")
    first_name: str
    last_name: str
    credentials: str | None = None
    gender: str | None = Field(default=None, max_length=1)

    __table_args__ = (
        CheckConstraint("gender is null or gender in ('F', 'M', 'X')", name="ck_prac_gender"),
        # FHIR Practitioner?name (migration 0010: COLLATE NOCASE on SQLite, lower() COLLATE "C" on PostgreSQL).
        Index("ix_practitioner_last_name_folded", "last_name"),
        Index("ix_practitioner_first_name_folded", "first_name"),
        Index("ix_practitioner_credentials_folded", "credentials"),
        Index("ix_practitioner_name_non_ascii", "listing_id", **{f"{dialect}_where": text(" OR ".join(
            pattern.format(c) for c in ("last_name", "first_name", "credentials"))) for dialect, pattern in
            NON_ASCII.items()}),
    )


class ListingSpecialty(SQLModel, table=True):
    listing_id: int = Field(primary_key=True, foreign_key="listing.id", ondelete="CASCADE")
    code: str = Field(primary_key=True, foreign_key="specialty.code")
    is_primary: bool = False

    __table_args__ = (Index("ix_listingspecialty_code", "code", "listing_id"),)  # a specialty's listings


class Location(SQLModel, table=True):
    """A place of service. Owned by a listing (an organization's site or a practitioner's office)."""

    id: int | None = Field(default=None, primary_key=True)
    # Indexed by ix_location_listing_point (listing_id first), below.
    listing_id: int = Field(foreign_key="listing.id", ondelete="CASCADE")
    name: str | None = None
    address: str
    city: str
    state: str = Field(max_length=2)
    zip: str = Field(max_length=5)
    lat: float
    lon: float
    geo_source: str = Field(default="zip_centroid", max_length=16)
    # Set with geo_source 'geocoder' (directory/services/geocoding.py): who placed the point, its match
    # type ("house", "street", ...), when, and the hash of the address placed (geocoding.address_hash).
    geocoder: str | None = Field(default=None, max_length=32)
    geo_quality: str | None = Field(default=None, max_length=32)
    geocoded_at: datetime | None = None
    address_hash: str | None = Field(default=None, max_length=64, index=True)
    phone: str | None = None
    fax: str | None = None
    hours: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    wheelchair_accessible: bool = False

    __table_args__ = (
        CheckConstraint("lat between -90 and 90 and lon between -180 and 180", name="ck_loc_coords"),
        CheckConstraint("length(zip) = 5", name="ck_loc_zip_len"),
        CheckConstraint("geo_source in ('zip_centroid', 'geocoder')", name="ck_loc_geo_source"),
        Index("ix_location_zip_folded", "zip"),  # FHIR address-postalcode (migration 0010, as the names')
        # Many listings' points without reading their location rows (FHIR near; migration 0013).
        Index("ix_location_listing_point", "listing_id", "lat", "lon", postgresql_include=["id"]),
        # The locations in a lat/lon box without reading their rows (FHIR Location?near; migration 0014).
        Index("ix_location_point", "lat", "lon", "listing_id", postgresql_include=["id"]),
    )


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


class Role(SQLModel, table=True):
    """A practitioner practising at an organization and/or location (FHIR PractitionerRole)."""

    __table_args__ = (
        UniqueConstraint("practitioner_id", "location_id", name="uq_role_practitioner_location"),
    )

    id: int | None = Field(default=None, primary_key=True)
    practitioner_id: int = Field(foreign_key="listing.id", index=True, ondelete="CASCADE")
    organization_id: int | None = Field(
        default=None, foreign_key="listing.id", index=True, ondelete="CASCADE"
    )
    location_id: int = Field(foreign_key="location.id", index=True, ondelete="CASCADE")
    specialty_code: str | None = Field(default=None, foreign_key="specialty.code")
    accepting_new_patients: bool = False
    telehealth: bool = False


class Participation(SQLModel, table=True):
    """A listing in a payer network, with optional dates."""

    listing_id: int = Field(primary_key=True, foreign_key="listing.id", ondelete="CASCADE")
    network_id: int = Field(primary_key=True, foreign_key="network.id", ondelete="CASCADE")
    start_date: date | None = None
    end_date: date | None = None
    # The harvest source (`HarvestSource.id`) whose directory asserts it; null when staff or an import
    # set it. No foreign key: the assertion's history lives in `NetworkClaim`, which keeps the source.
    source_id: int | None = None

    __table_args__ = (
        CheckConstraint(
            "start_date is null or end_date is null or start_date <= end_date",
            name="ck_participation_dates",
        ),
        Index("ix_participation_network", "network_id"),
    )


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


class StaffUser(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True)
    password_hash: str
    role: str = Field(max_length=16)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        CheckConstraint("role in ('editor', 'verifier', 'admin')", name="ck_staff_role"),
    )


class AuditEntry(SQLModel, table=True):
    """Who changed what, when, with each changed field's before and after."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str
    staff_id: int | None = Field(default=None, foreign_key="staffuser.id")
    listing_id: int | None = Field(default=None, index=True)
    action: str = Field(max_length=32)
    changes: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


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


PROBLEM_CODES = ("wrong_phone", "wrong_address", "not_in_network", "not_accepting", "no_ivig", "closed", "other")
REPORT_STATUSES = ("open", "resolved", "dismissed")


class ProblemReport(SQLModel, table=True):
    """A member of the public saying a listing is wrong; staff resolve or dismiss it."""

    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listing.id", index=True, ondelete="CASCADE")
    problem: str = Field(max_length=32)
    details: str
    contact: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    client_key: str = Field(max_length=64)  # salted SHA-256 of the remote address, never the address
    status: str = Field(default="open", max_length=16)
    resolved_at: datetime | None = None
    resolved_by: str | None = None

    __table_args__ = (
        CheckConstraint(
            "problem in ('wrong_phone', 'wrong_address', 'not_in_network', 'not_accepting', "
            "'no_ivig', 'closed', 'other')",
            name="ck_report_problem",
        ),
        CheckConstraint("status in ('open', 'resolved', 'dismissed')", name="ck_report_status"),
        Index("ix_problemreport_client_created", "client_key", "created_at"),
        Index("ix_problemreport_status", "status"),
        Index("ix_problemreport_listing_status", "listing_id", "status"),
    )


class LoginAttempt(SQLModel, table=True):
    """One staff sign-in attempt; recent failures throttle that email and that client."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254)
    client_key: str = Field(max_length=64)  # salted SHA-256 of the remote address, never the address
    succeeded: bool = False
    at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        Index("ix_loginattempt_email_at", "email", "at"),
        Index("ix_loginattempt_client_at", "client_key", "at"),
    )
