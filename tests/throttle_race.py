"""Shared by the SQLite and PostgreSQL tests: sign-in failures sent at once must not get past the
throttle together."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from directory.models import LoginAttempt
from directory.services import accounts

EMAIL = "admin@example.org"
CLIENT = "one-client"


def failures_at_once(engine: Engine, attempts: int = 8, *, across_emails: bool = False) -> tuple[list[str], int]:
    """With one failure left before the throttle, `attempts` wrong passwords from one client at the
    same moment: what each got, and the failures stored afterwards.

    By default every attempt is for one email (the per email and client limit); with
    `across_emails` each is for another email (the per-client limit).
    """
    limit = accounts.MAX_CLIENT_FAILURES if across_emails else accounts.MAX_FAILURES
    with Session(engine) as session:
        for i in range(limit - 1):
            email = f"before-{i}@example.org" if across_emails else EMAIL
            try:
                accounts.authenticate(session, email, "wrong password", client_key=CLIENT)
            except accounts.LoginFailed:
                pass
    start = threading.Barrier(attempts)

    def attempt(i: int) -> str:
        email = f"at-once-{i}@example.org" if across_emails else EMAIL
        with Session(engine) as session:
            start.wait()
            try:
                accounts.authenticate(session, email, "wrong password", client_key=CLIENT)
            except accounts.LoginFailed:
                return "failed"
            except accounts.LoginThrottled:
                return "throttled"
            return "signed in"

    with ThreadPoolExecutor(attempts) as pool:
        outcomes = list(pool.map(attempt, range(attempts)))
    with Session(engine) as session:
        stored = session.execute(select(func.count()).select_from(LoginAttempt)
                                 .where(LoginAttempt.succeeded.is_(False))).scalar_one()
    return outcomes, stored
