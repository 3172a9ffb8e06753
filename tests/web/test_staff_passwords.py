"""Staff passwords: change your own, an admin sets one for another account, and old sessions end."""

from __future__ import annotations

import json

from sqlalchemy import select

from directory.models import AuditEntry, StaffUser
from directory.services import accounts
from tests.web.test_staff_auth import PASSWORD, csrf_token, make_staff, sign_in, text


def change_password(client, url="/staff/password", **fields):
    return client.post(url, data={"csrf_token": csrf_token(client, url), **fields})


def test_staff_change_their_own_password_and_other_sessions_end(app, session):
    make_staff(session, role="editor")
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here)
    sign_in(elsewhere)
    new = "a much longer new passphrase"
    refused = change_password(here, current_password="not it", new_password="short", confirm_password="other")
    assert refused.status_code == 400
    for message in ("This is not your current password.", f"Use at least {accounts.PASSWORD_MIN} characters.",
                    "The two new passwords are not the same."):
        assert message in text(refused)
    assert elsewhere.get("/staff/").status_code == 200  # nothing changed yet
    changed = change_password(here, current_password=PASSWORD, new_password=new, confirm_password=new)
    assert changed.status_code == 303
    assert "Your password has been changed." in text(here.get("/staff/"))  # this session goes on
    assert elsewhere.get("/staff/").status_code == 302  # the other one is signed out
    assert sign_in(app.test_client()).status_code == 401  # the old password no longer works
    assert sign_in(app.test_client(), password=new).status_code == 303
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "staff.password")).scalar_one()
    assert entry.actor == "admin@example.org" and entry.changes == {"email": ["admin@example.org"] * 2}
    hashes = session.execute(select(StaffUser.password_hash)).scalars().all()
    assert all(new not in json.dumps(entry.changes) and h.startswith("scrypt:") for h in hashes)


def test_admin_sets_a_new_password_for_another_account_and_ends_its_sessions(app, client, session):
    make_staff(session)
    editor = make_staff(session, email="ed@example.org", role="editor")
    theirs = app.test_client()
    sign_in(theirs, email="ed@example.org")
    sign_in(client)
    url = f"/staff/accounts/{editor.id}/password"
    assert "current_password" not in text(client.get(url))  # an admin does not need it
    new = "given out privately 1234"
    assert change_password(client, url, new_password=new, confirm_password=new).status_code == 303
    assert theirs.get("/staff/").status_code == 302
    assert sign_in(app.test_client(), email="ed@example.org", password=new).status_code == 303
    assert client.get("/staff/").status_code == 200  # the admin's own session is untouched
    # Only admins set other people's passwords; an unknown account is 404.
    sign_in(theirs, email="ed@example.org", password=new)
    forbidden = theirs.post(f"/staff/accounts/{client_id(session)}/password", data={
        "csrf_token": csrf_token(theirs, "/staff/password"), "new_password": new, "confirm_password": new})
    assert forbidden.status_code == 403
    assert sign_in(app.test_client()).status_code == 303  # the admin's password is unchanged
    assert client.get("/staff/accounts/9999/password").status_code == 404


def client_id(session) -> int:
    return session.execute(select(StaffUser.id).where(StaffUser.email == "admin@example.org")).scalar_one()
