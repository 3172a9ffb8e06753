"""The listings and what they are made of: a `Listing` (organization or practitioner) with its
kind-specific row, specialties, locations, practitioners' roles, and network participation."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from directory.models.common import INACTIVE, NON_ASCII, utcnow


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
        Index(
            "ix_listing_name_non_ascii",
            "id",
            sqlite_where=text(NON_ASCII["sqlite"].format("name")),
            postgresql_where=text(NON_ASCII["postgresql"].format("name")),
        ),
        # Which of many listings are active, without reading their rows (FHIR near; migration 0013).
        Index("ix_listing_id_active", "id", "active"),
        # The inactive listings, few (FHIR Location?near leaves their locations out; migration 0015).
        # On `active` (with the row id SQLite keeps, the id PostgreSQL includes): SQLite's planner takes
        # a covering partial index over a scan of ix_listing_id_active, not one that is not covering.
        Index("ix_listing_inactive", "active", sqlite_where=text(INACTIVE), postgresql_where=text(INACTIVE),
              postgresql_include=["id"]),
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
            "org_type in ('infusion_center', 'home_infusion', 'hospital_infusion', 'specialty_pharmacy', 'practice')",
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
        Index(
            "ix_practitioner_name_non_ascii",
            "listing_id",
            **{
                f"{dialect}_where": text(
                    " OR ".join(pattern.format(c) for c in ("last_name", "first_name", "credentials"))
                )
                for dialect, pattern in NON_ASCII.items()
            },
        ),
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


class Role(SQLModel, table=True):
    """A practitioner practising at an organization and/or location (FHIR PractitionerRole)."""

    __table_args__ = (UniqueConstraint("practitioner_id", "location_id", name="uq_role_practitioner_location"),)

    id: int | None = Field(default=None, primary_key=True)
    practitioner_id: int = Field(foreign_key="listing.id", index=True, ondelete="CASCADE")
    organization_id: int | None = Field(default=None, foreign_key="listing.id", index=True, ondelete="CASCADE")
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
