"""Staff accounts: create, sign in (with throttling), change passwords, deactivate and reactivate.

Passwords are stored only as werkzeug scrypt hashes and never written to the audit log.

Sign-in throttle. Failures are kept in the database, so the throttle holds across several web
workers. A client (a hashed remote address; for IPv6 its /64 network, see `reports.client_key`) is
refused, before its password is checked, while it has within `THROTTLE_WINDOW` (15 minutes):
- `MAX_FAILURES` (5) failures for the email it is signing in with, or
- `MAX_CLIENT_FAILURES` (20) failures across all emails.
Failures are never counted per email alone, so a stranger cannot lock an account out: their
failures throttle only their own client, and the owner signing in from a client that has not
failed is never refused. Guessing one password from many clients is slowed per client, and the
12-character minimum keeps it out of reach. Attempts from one client take turns (see
`_take_turns`), so attempts sent at once cannot all pass with one failure left.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlmodel import Session
from werkzeug.security import check_password_hash, generate_password_hash

from directory.models import STAFF_ROLES, AuditEntry, LoginAttempt, StaffUser, utcnow
from directory.services.errors import ValidationError

PASSWORD_MIN = 12
EMAIL_MAX = 254
MAX_FAILURES = 5  # per email and client
MAX_CLIENT_FAILURES = 20  # per client, across all emails
THROTTLE_WINDOW = timedelta(minutes=15)
KEEP_ATTEMPTS = timedelta(days=30)  # sign-in attempts are kept this long, then pruned
_LOCK_SPACE = 0x5161  # first key of the sign-in advisory locks (PostgreSQL)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# Checked when the email is unknown, so a wrong email takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


class LoginFailed(Exception):
    """Wrong email or password, or a deactivated account (the user is not told which)."""


class LoginThrottled(Exception):
    """Too many recent failures from this client (for this email, or in all); `message` says what
    to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def normalize_email(email: str | None) -> str:
    return (email or "").strip().lower()


def _actor_fields(actor: StaffUser | str) -> dict:
    if isinstance(actor, StaffUser):
        return {"actor": actor.email, "staff_id": actor.id}
    return {"actor": actor}


def create_staff(session: Session, *, email: str, role: str, password: str, actor: StaffUser | str) -> StaffUser:
    """Add a staff account with a hashed password and its audit entry; the caller commits.

    Raises `ValidationError` (field -> message) for a malformed or taken email, an unknown role or a
    password shorter than `PASSWORD_MIN` characters.
    """
    email = normalize_email(email)
    errors: dict[str, str] = {}
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        errors["email"] = "Enter an email address like name@example.org."
    elif session.execute(select(StaffUser.id).where(StaffUser.email == email)).first():
        errors["email"] = "There is already an account with this email."
    if role not in STAFF_ROLES:
        errors["role"] = f"Choose one of: {', '.join(STAFF_ROLES)}."
    if len(password or "") < PASSWORD_MIN:
        errors["password"] = f"Use at least {PASSWORD_MIN} characters."
    if errors:
        raise ValidationError(errors)
    staff = StaffUser(email=email, role=role, password_hash=generate_password_hash(password, method="scrypt"))
    session.add(staff)
    session.flush()
    session.add(AuditEntry(action="staff.create", changes={"email": [None, email], "role": [None, role],
                                                           "staff_user_id": [None, staff.id]},
                           **_actor_fields(actor)))
    session.flush()
    return staff


def set_staff_active(session: Session, *, staff_id: int, active: bool, actor: StaffUser | str) -> StaffUser:
    """Deactivate (they can no longer sign in, and signed-in sessions end) or reactivate an account;
    the caller commits. Raises `LookupError` for an unknown id and `ValidationError` when an admin
    tries to deactivate their own account."""
    staff = session.get(StaffUser, staff_id)
    if staff is None:
        raise LookupError(f"no staff account {staff_id}")
    if not active and isinstance(actor, StaffUser) and actor.id == staff.id:
        raise ValidationError({"active": "You cannot deactivate your own account."})
    if staff.active != active:
        staff.active = active
        session.add(AuditEntry(action="staff.reactivate" if active else "staff.deactivate",
                               changes={"active": [not active, active], "email": [staff.email, staff.email]},
                               **_actor_fields(actor)))
        session.flush()
    return staff


def set_password(session: Session, *, staff_id: int, new: str, actor: StaffUser | str,
                 current: str | None = None) -> StaffUser:
    """Give an account a new password; the caller commits. With `current` (people changing their
    own), that must be the account's password. Sessions signed in with the old password end at
    their next request (see `session_key`).

    Raises `LookupError` for an unknown id and `ValidationError` for a wrong current password or a
    new one shorter than `PASSWORD_MIN` characters.
    """
    staff = session.get(StaffUser, staff_id)
    if staff is None:
        raise LookupError(f"no staff account {staff_id}")
    errors: dict[str, str] = {}
    if current is not None and not check_password_hash(staff.password_hash, current):
        errors["current_password"] = "This is not your current password."
    if len(new or "") < PASSWORD_MIN:
        errors["new_password"] = f"Use at least {PASSWORD_MIN} characters."
    if errors:
        raise ValidationError(errors)
    staff.password_hash = generate_password_hash(new, method="scrypt")
    session.add(AuditEntry(action="staff.password", changes={"email": [staff.email, staff.email]},
                           **_actor_fields(actor)))
    session.flush()
    return staff


def session_key(staff: StaffUser) -> str:
    """Part of a signed-in session's user id: it changes with the password, so a new password ends
    every session signed in with the old one (a stolen session cookie too)."""
    return hashlib.sha256(staff.password_hash.encode()).hexdigest()[:16]


def recent_failures(session: Session, email: str, client_key: str, now: datetime) -> tuple[int, int]:
    """Failed attempts from this client within the throttle window: (for this email, for any email)."""
    for_email, in_all = session.execute(
        select(func.count().filter(LoginAttempt.email == email), func.count()).select_from(LoginAttempt).where(
            LoginAttempt.succeeded.is_(False),
            LoginAttempt.at > now - THROTTLE_WINDOW,
            LoginAttempt.client_key == client_key,
        )
    ).one()
    return for_email, in_all


def _take_turns(session: Session, client_key: str, now: datetime) -> None:
    """Sign-in attempts from one client run one after another until each is stored, so that
    attempts sent at once cannot all pass the throttle with one failure left (both limits count
    only this client's attempts, so one key is enough).

    PostgreSQL: a transaction-level advisory lock on the client's key.
    SQLite: the transaction's first statement writes (pruning attempts older than KEEP_ATTEMPTS),
    which takes the database's write lock until commit; a write after a read in the same
    transaction could fail instead of waiting. Only the last THROTTLE_WINDOW counts; a month is kept
    for looking back at an attack.
    """
    session.commit()  # a fresh transaction: the lock below must come first in it
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"),
                        {"space": _LOCK_SPACE, "key": f"client:{client_key}"})
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - KEEP_ATTEMPTS))


def authenticate(session: Session, email: str, password: str, client_key: str,
                 now: datetime | None = None) -> StaffUser:
    """The active account with this email and password.

    Raises `LoginThrottled` (checked before the password; see the module docstring) or
    `LoginFailed`. Commits the attempt itself, because a failure must be stored even though the call
    raises.
    """
    now = now or utcnow()
    email = normalize_email(email)
    _take_turns(session, client_key, now)
    for_email, in_all = recent_failures(session, email, client_key, now)
    if for_email >= MAX_FAILURES or in_all >= MAX_CLIENT_FAILURES:
        session.commit()  # the pruning, and the turn passes to the next attempt
        minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
        raise LoginThrottled(f"Too many failed sign-in attempts. Please wait {minutes} minutes and try again.")
    staff = session.execute(select(StaffUser).where(StaffUser.email == email)).scalar_one_or_none()
    password_ok = check_password_hash(staff.password_hash if staff else _DUMMY_HASH, password or "")
    succeeded = bool(staff and staff.active and password_ok)
    session.add(LoginAttempt(email=email[:EMAIL_MAX], client_key=client_key, succeeded=succeeded, at=now))
    session.commit()
    if not succeeded:
        raise LoginFailed("wrong email or password")
    return staff
