"""Staff and what they answer for: accounts, sign-in attempts, the audit log, and the public's
problem reports that staff resolve."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, Index
from sqlmodel import Field, SQLModel

from directory.models.common import utcnow


class StaffUser(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True)
    password_hash: str
    role: str = Field(max_length=16)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (CheckConstraint("role in ('editor', 'verifier', 'admin')", name="ck_staff_role"),)


class AuditEntry(SQLModel, table=True):
    """Who changed what, when, with each changed field's before and after."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str
    staff_id: int | None = Field(default=None, foreign_key="staffuser.id")
    listing_id: int | None = Field(default=None, index=True)
    action: str = Field(max_length=32)
    changes: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


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
