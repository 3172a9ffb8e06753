"""Staff accounts (directory/services/accounts.py): validation, deactivation, and the sign-in
throttle that counts failures per client, never per email alone. The pages are tested in
tests/web/test_staff_auth.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from directory.models import LoginAttempt, utcnow
from directory.services import accounts
from directory.services.errors import ValidationError
from tests.web.test_staff_auth import PASSWORD, make_staff


def test_a_stranger_cannot_lock_the_owner_out(session):
    """Five wrong passwords for the admin from client A: A is refused even with the right password,
    and the admin, signing in from client B, gets in."""
    make_staff(session)
    for _ in range(accounts.MAX_FAILURES):
        with pytest.raises(accounts.LoginFailed):
            accounts.authenticate(session, "admin@example.org", "nope", client_key="client-a")
    with pytest.raises(accounts.LoginThrottled):
        accounts.authenticate(session, "admin@example.org", PASSWORD, client_key="client-a")
    staff = accounts.authenticate(session, "admin@example.org", PASSWORD, client_key="client-b")
    assert staff.email == "admin@example.org"


def test_failures_from_many_clients_for_one_email_do_not_lock_it(session):
    make_staff(session)
    for i in range(3 * accounts.MAX_FAILURES):
        with pytest.raises(accounts.LoginFailed):
            accounts.authenticate(session, "admin@example.org", "nope", client_key=f"client-{i}")
    assert accounts.authenticate(session, "admin@example.org", PASSWORD, client_key="owner").email \
        == "admin@example.org"


def test_throttle_lifts_after_fifteen_minutes(session):
    make_staff(session)
    start = utcnow()
    for _ in range(accounts.MAX_FAILURES):
        with pytest.raises(accounts.LoginFailed):
            accounts.authenticate(session, "admin@example.org", "nope", "c", now=start)
    with pytest.raises(accounts.LoginThrottled):
        accounts.authenticate(session, "admin@example.org", PASSWORD, "c", now=start + timedelta(minutes=14))
    staff = accounts.authenticate(session, "admin@example.org", PASSWORD, "c", now=start + timedelta(minutes=16))
    assert staff.email == "admin@example.org"
    attempts = session.execute(select(LoginAttempt.succeeded)).scalars().all()
    assert attempts == [False] * accounts.MAX_FAILURES + [True]  # the refused attempt checked nothing


def test_old_sign_in_attempts_are_pruned(session):
    make_staff(session)
    start = utcnow()
    with pytest.raises(accounts.LoginFailed):
        accounts.authenticate(session, "admin@example.org", "nope", "c", now=start)
    accounts.authenticate(session, "admin@example.org", PASSWORD, "c", now=start + timedelta(days=29))
    assert len(session.execute(select(LoginAttempt.id)).all()) == 2
    accounts.authenticate(session, "admin@example.org", PASSWORD, "c", now=start + timedelta(days=31))
    kept = session.execute(select(LoginAttempt.at)).scalars().all()
    assert len(kept) == 2 and all(at.replace(tzinfo=None) > start.replace(tzinfo=None) for at in kept)


def test_admin_cannot_deactivate_themselves(session):
    admin = make_staff(session)
    with pytest.raises(ValidationError):
        accounts.set_staff_active(session, staff_id=admin.id, active=False, actor=admin)


def test_create_staff_validates(session):
    with pytest.raises(ValidationError) as error:
        accounts.create_staff(session, email="not-an-email", role="owner", password="x" * 11, actor="test")
    assert set(error.value.errors) == {"email", "role", "password"}
