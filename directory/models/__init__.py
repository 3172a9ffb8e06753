"""Database tables: the source of truth (modelled on HL7 FHIR Plan-Net, simplified).

A `Listing` is what a user finds: an organization (infusion centre, home-infusion pharmacy,
hospital unit, practice) or a practitioner. Kind-specific fields live in `Organization` and
`Practitioner`, keyed by the listing id, so that one id space serves search, audit and verification.

One module per responsibility, every name importable from here (importing this package registers
every table on `SQLModel.metadata`):

    common      coded values, the clock, the id range
    listings    Listing, Organization, Practitioner, Specialty, Location, Role, Network, Participation
    geocoding   GeocodeTask, the street geocoder's queue
    harvest     HarvestSource, HarvestRun, HarvestSeen, NetworkClaim (payers' Plan-Net directories)
    staff       StaffUser, LoginAttempt, AuditEntry, ProblemReport
    outbox      IndexChange, PublicCard, PublicPlace (derived from the listings by the outbox)
"""

from __future__ import annotations

from directory.models.common import (
    GEO_SOURCES,
    GEOCODE_STATES,
    INACTIVE,
    KINDS,
    MAX_ID,
    NON_ASCII,
    ORG_TYPES,
    STAFF_ROLES,
    STALE_AFTER_DAYS,
    VERIFICATION_METHODS,
    WEEKDAYS,
    utcnow,
)
from directory.models.geocoding import (
    GeocodeTask,
)
from directory.models.harvest import (
    HARVEST_STATES,
    HarvestRun,
    HarvestSeen,
    HarvestSource,
    NetworkClaim,
)
from directory.models.listings import (
    Listing,
    ListingSpecialty,
    Location,
    Network,
    Organization,
    Participation,
    Practitioner,
    Role,
    Specialty,
)
from directory.models.outbox import (
    IndexChange,
    PublicCard,
    PublicPlace,
)
from directory.models.staff import (
    PROBLEM_CODES,
    REPORT_STATUSES,
    AuditEntry,
    LoginAttempt,
    ProblemReport,
    StaffUser,
)

__all__ = [
    "KINDS",
    "ORG_TYPES",
    "WEEKDAYS",
    "VERIFICATION_METHODS",
    "STAFF_ROLES",
    "GEO_SOURCES",
    "GEOCODE_STATES",
    "STALE_AFTER_DAYS",
    "INACTIVE",
    "NON_ASCII",
    "MAX_ID",
    "utcnow",
    "Specialty",
    "Network",
    "Listing",
    "Organization",
    "Practitioner",
    "ListingSpecialty",
    "Location",
    "Role",
    "Participation",
    "GeocodeTask",
    "HARVEST_STATES",
    "HarvestSource",
    "HarvestRun",
    "HarvestSeen",
    "NetworkClaim",
    "StaffUser",
    "AuditEntry",
    "PROBLEM_CODES",
    "REPORT_STATUSES",
    "ProblemReport",
    "LoginAttempt",
    "IndexChange",
    "PublicCard",
    "PublicPlace",
]
