"""What every table module shares: the allowed values of coded columns, the clock, the id range."""

from __future__ import annotations

from datetime import UTC, datetime

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
# An inactive listing (a partial index's predicate, the same on both databases; FHIR Location?near
# leaves out the locations of such listings, few, found through it).
INACTIVE = "NOT listing.active"
MAX_ID = 2**31 - 1  # the largest id every database here can hold: id columns are INTEGER, 32-bit on PostgreSQL


def utcnow() -> datetime:
    return datetime.now(UTC)
