"""Shared by the SQLite and PostgreSQL tests: sign-in failures sent at once must not get past the
throttle together."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from directory import accounts
from directory.models import LoginAttempt

EMAIL = "admin@example.org"


def failures_at_once(engine: Engine, attempts: int = 8) -> tuple[list[str], int]:
    """With one failure left before the throttle, `attempts` wrong passwords for one email from as
    many clients at the same moment: what each got, and the failures stored afterwards."""
    with Session(engine) as session:
        for i in range(accounts.MAX_FAILURES - 1):
            try:
                accounts.authenticate(session, EMAIL, "wrong password", client_key=f"before-{i}")
            except accounts.LoginFailed:
                pass
    start = threading.Barrier(attempts)

    def attempt(i: int) -> str:
        with Session(engine) as session:
            start.wait()
            try:
                accounts.authenticate(session, EMAIL, "wrong password", client_key=f"client-{i}")
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
