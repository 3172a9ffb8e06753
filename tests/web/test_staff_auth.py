"""Staff accounts and roles: sign-in, throttling, role checks, account admin, the CLI, and that every
state-changing route refuses anonymous and token-less requests. CSRF protection stays on."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select
from sqlmodel import Session

from directory import create_app, migrate
from directory.db import get_engine, make_engine
from directory.models import AuditEntry, LoginAttempt, StaffUser
from directory.services import accounts
from directory.web.staff.auth import role_required
from tests.throttle_race import failures_at_once
from tests.web.test_html_valid import assert_valid_html5
from tests.web.test_providers import parse

PASSWORD = "correct horse battery"
THROTTLED = "Too many failed sign-in attempts"
WRONG = "That email and password do not match an active staff account."
# Forms anyone may send (they still need the CSRF token from the page that shows them).
ANONYMOUS_FORMS = {"providers.report", "staff.login"}


def make_staff(session, *, email="admin@example.org", role="admin", password=PASSWORD, active=True) -> StaffUser:
    staff = accounts.create_staff(session, email=email, role=role, password=password, actor="test")
    staff.active = active
    session.commit()
    return staff


def csrf_token(client, url="/staff/login") -> str:
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, email="admin@example.org", password=PASSWORD, **extra):
    data = {"csrf_token": csrf_token(client), "email": email, "password": password, **extra}
    return client.post("/staff/login", data=data)


def text(response) -> str:
    return response.get_data(as_text=True)


# --- signing in and out ------------------------------------------------------------------------

def test_login_success_shows_the_dashboard(client, session):
    make_staff(session)
    response = sign_in(client)
    assert response.status_code == 303 and response.location == "/staff/"
    page = client.get("/staff/")
    assert page.status_code == 200
    assert "Signed in as admin@example.org." in text(page)
    assert 'id="signed-in-email">admin@example.org<' in text(page)
    assert 'href="/staff/accounts"' in text(page)


def test_login_is_case_insensitive_on_email(client, session):
    make_staff(session)
    assert sign_in(client, email="  Admin@Example.ORG ").status_code == 303


@pytest.mark.parametrize(("email", "password"), [("admin@example.org", "wrong password!"),
                                                 ("nobody@example.org", PASSWORD)])
def test_login_failure_says_so_without_telling_which_part(client, session, email, password):
    make_staff(session)
    response = sign_in(client, email=email, password=password)
    assert response.status_code == 401
    assert WRONG in text(response)
    assert f'value="{email}"' in text(response)  # the email is kept, the password is not
    assert client.get("/staff/").status_code == 302


def test_deactivated_account_cannot_sign_in(client, session):
    make_staff(session, email="gone@example.org", role="editor", active=False)
    response = sign_in(client, email="gone@example.org")
    assert response.status_code == 401 and WRONG in text(response)


def test_empty_fields_are_marked_next_to_the_field(client):
    response = sign_in(client, email="", password="")
    assert response.status_code == 400
    page = parse(response)
    assert page.ids["email-error"] and page.ids["password-error"]
    assert page.ids["email"][1]["aria-describedby"] == "email-error"


def test_logout_ends_the_session(client, session):
    make_staff(session)
    sign_in(client)
    response = client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    assert response.status_code == 303 and response.location == "/staff/login"
    assert "You have signed out." in text(client.get("/staff/login"))
    assert client.get("/staff/").status_code == 302


def test_next_returns_to_the_page_asked_for_but_never_off_site(client, session):
    make_staff(session)
    assert sign_in(client, next="/staff/accounts").location == "/staff/accounts"
    client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        assert sign_in(client, next=evil).location == "/staff/"
        client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})


def test_session_cookie_is_httponly_and_lax(client, session):
    make_staff(session)
    cookie = sign_in(client).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_cookies_are_secure_outside_development(tmp_path):
    settings = {"DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}", "INDEX_DIR": str(tmp_path / "index"),
                "SECRET_KEY": "a-real-secret", "ENV": "production"}
    production = create_app(settings)
    assert production.config["SESSION_COOKIE_SECURE"] and production.config["REMEMBER_COOKIE_SECURE"]
    assert production.config["REMEMBER_COOKIE_HTTPONLY"] and production.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    development = create_app({**settings, "ENV": "development"})
    assert not development.config["SESSION_COOKIE_SECURE"]
    get_engine(production).dispose()
    get_engine(development).dispose()


def test_deactivation_ends_an_open_session(client, session):
    staff = make_staff(session, email="ed@example.org", role="editor")
    sign_in(client, email="ed@example.org")
    assert client.get("/staff/").status_code == 200
    accounts.set_staff_active(session, staff_id=staff.id, active=False, actor="test")
    session.commit()
    assert client.get("/staff/").status_code == 302


# --- throttling --------------------------------------------------------------------------------

def test_sixth_attempt_is_refused_even_with_the_right_password(client, session):
    make_staff(session)
    for _ in range(accounts.MAX_FAILURES):
        assert sign_in(client, password="not the password").status_code == 401
    response = sign_in(client)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "900"
    assert "Too many failed sign-in attempts. Please wait 15 minutes and try again." in text(response)
    assert client.get("/staff/").status_code == 302


def test_throttle_counts_failures_from_one_client_across_emails(client, session):
    make_staff(session)
    for i in range(accounts.MAX_CLIENT_FAILURES):
        sign_in(client, email=f"guess{i}@example.org")
    assert sign_in(client).status_code == 429


def test_a_few_failures_for_other_emails_do_not_block_a_client(client, session):
    make_staff(session)
    for i in range(accounts.MAX_FAILURES):
        sign_in(client, email=f"guess{i}@example.org")
    assert sign_in(client).status_code == 303


# --- roles -------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/staff/", "/staff/accounts"])
def test_anonymous_is_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.location == f"/staff/login?next={url.replace('/', '%2F')}"
    assert "Please sign in to see staff pages." in text(client.get(response.location))


@pytest.mark.parametrize("role", ["editor", "verifier"])
def test_wrong_role_gets_403(client, session, role):
    make_staff(session, email=f"{role}@example.org", role=role)
    sign_in(client, email=f"{role}@example.org")
    assert client.get("/staff/").status_code == 200
    response = client.get("/staff/accounts")
    assert response.status_code == 403
    assert "You are not allowed to use this page" in text(response)
    assert 'href="/staff/accounts"' not in text(client.get("/staff/"))
    token = csrf_token(client, "/staff/")
    post = client.post("/staff/accounts", data={"csrf_token": token, "email": "x@example.org", "role": "admin",
                                               "password": PASSWORD})
    assert post.status_code == 403
    assert session.execute(select(StaffUser).where(StaffUser.email == "x@example.org")).first() is None


def test_admin_passes_every_role_check(app, session):
    app.add_url_rule("/staff/editor-only", "editor_only", role_required("editor")(lambda: "editing"))
    for email, role in (("admin@example.org", "admin"), ("ed@example.org", "editor"), ("v@example.org", "verifier")):
        make_staff(session, email=email, role=role)
    expected = {"admin@example.org": 200, "ed@example.org": 200, "v@example.org": 403}
    for email, status in expected.items():
        client = app.test_client()
        sign_in(client, email=email)
        assert client.get("/staff/editor-only").status_code == status, email


# --- account administration ---------------------------------------------------------------------

def test_admin_creates_an_account_and_the_new_user_signs_in(app, client, session):
    make_staff(session)
    sign_in(client)
    token = csrf_token(client, "/staff/accounts")
    response = client.post("/staff/accounts", data={"csrf_token": token, "email": "New.Editor@example.org",
                                                    "role": "editor", "password": "a long initial pw"})
    assert response.status_code == 303
    listing = text(client.get("/staff/accounts"))
    assert "Account created for new.editor@example.org (editor)." in listing
    assert "<td>new.editor@example.org</td>" in listing

    other = app.test_client()
    assert sign_in(other, email="new.editor@example.org", password="a long initial pw").status_code == 303
    assert "Signed in as new.editor@example.org." in text(other.get("/staff/"))
    assert other.get("/staff/accounts").status_code == 403


def test_account_form_errors_are_shown_next_to_fields(client, session):
    make_staff(session)
    sign_in(client)
    token = csrf_token(client, "/staff/accounts")
    response = client.post("/staff/accounts", data={"csrf_token": token, "email": "admin@example.org",
                                                    "role": "boss", "password": "short"})
    assert response.status_code == 400
    page = parse(response)
    for field in ("email", "role", "password"):
        assert field + "-error" in page.ids
    assert "There is already an account with this email." in text(response)
    assert "Use at least 12 characters." in text(response)
    assert session.execute(select(StaffUser)).scalars().all()[0].email == "admin@example.org"


def test_admin_deactivates_and_reactivates(app, client, session):
    make_staff(session)
    editor = make_staff(session, email="ed@example.org", role="editor")
    sign_in(client)
    token = csrf_token(client, "/staff/accounts")
    client.post(f"/staff/accounts/{editor.id}/active", data={"csrf_token": token, "active": "0"})
    assert "ed@example.org deactivated." in text(client.get("/staff/accounts"))
    assert sign_in(app.test_client(), email="ed@example.org").status_code == 401
    client.post(f"/staff/accounts/{editor.id}/active", data={"csrf_token": token, "active": "1"})
    assert sign_in(app.test_client(), email="ed@example.org").status_code == 303
    actions = session.execute(select(AuditEntry.action, AuditEntry.actor).order_by(AuditEntry.id)).all()
    assert actions[-2:] == [("staff.deactivate", "admin@example.org"), ("staff.reactivate", "admin@example.org")]
    assert client.post("/staff/accounts/999/active", data={"csrf_token": token, "active": "0"}).status_code == 404


def test_password_is_hashed_and_never_audited(client, session):
    make_staff(session)
    sign_in(client)
    client.post("/staff/accounts", data={"csrf_token": csrf_token(client, "/staff/accounts"),
                                         "email": "v@example.org", "role": "verifier", "password": "verifier secret!"})
    staff = session.execute(select(StaffUser).where(StaffUser.email == "v@example.org")).scalar_one()
    assert staff.password_hash.startswith("scrypt:") and "verifier secret!" not in staff.password_hash
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "staff.create")
                            .order_by(AuditEntry.id.desc())).scalars().first()
    assert entry.actor == "admin@example.org" and entry.staff_id is not None
    assert entry.changes["email"] == [None, "v@example.org"] and entry.changes["role"] == [None, "verifier"]
    assert "secret" not in json.dumps(entry.changes) and "scrypt" not in json.dumps(entry.changes)


# --- schema and pages ---------------------------------------------------------------------------

def test_migration_creates_the_login_attempt_table(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    migrate.upgrade(engine)
    inspector = inspect(engine)
    assert "loginattempt" in inspector.get_table_names()
    columns = {c["name"] for c in inspector.get_columns("loginattempt")}
    assert columns == {"id", "email", "client_key", "succeeded", "at"}
    assert {i["name"] for i in inspector.get_indexes("loginattempt")} == {"ix_loginattempt_email_at",
                                                                          "ix_loginattempt_client_at"}
    with Session(engine) as session:
        session.add(LoginAttempt(email="a@example.org", client_key="k", succeeded=False))
        session.commit()
    engine.dispose()


def test_staff_pages_have_labels_and_are_valid_html5(app, client, session, tmp_path):
    make_staff(session)
    make_staff(session, email="ed@example.org", role="editor", active=False)
    pages = {"login": client.get("/staff/login"), "login-errors": sign_in(client, email="", password="")}
    sign_in(client)
    pages["dashboard"] = client.get("/staff/")
    pages["accounts"] = client.get("/staff/accounts")
    pages["accounts-errors"] = client.post("/staff/accounts", data={
        "csrf_token": csrf_token(client, "/staff/accounts"), "email": "bad", "role": "x", "password": "y"})
    from tests.web.test_staff_passwords import change_password, client_id

    pages["password"] = client.get("/staff/password")
    pages["password-errors"] = change_password(client, current_password="x", new_password="y", confirm_password="z")
    pages["password-other"] = client.get(f"/staff/accounts/{client_id(session) + 1}/password")
    other = app.test_client()
    make_staff(session, email="v@example.org", role="verifier")
    sign_in(other, email="v@example.org")
    pages["forbidden"] = other.get("/staff/accounts")
    assert_valid_html5(pages, tmp_path, check=parse)


def test_dashboard_shows_the_verification_counts(app, client, factory, session):
    from datetime import date

    from directory.models import Listing
    from directory.services.accounts import create_staff

    fresh, old = factory.listing(name="Fresh Infusion"), factory.listing(name="Old Infusion", zip="02116")
    factory.listing(name="Never Infusion", zip="02134")
    session.get(Listing, fresh.id).last_verified = date.today() - timedelta(days=10)
    session.get(Listing, old.id).last_verified = date.today() - timedelta(days=120)
    create_staff(session, email="counts@example.org", role="verifier", password="x" * 14, actor="test")
    session.commit()
    page = client.get("/staff/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post("/staff/login", data={"email": "counts@example.org", "password": "x" * 14, "csrf_token": token})
    html = client.get("/staff/").get_data(as_text=True)
    counts = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", html))
    assert counts["Active listings"] == "3"
    assert counts["Verified within 90 days"] == "1"
    assert counts["Overdue (more than 90 days)"] == "1"
    assert counts["Never verified"] == "1"


@pytest.mark.parametrize("across_emails", [False, True])
def test_failures_sent_at_once_do_not_pass_the_throttle_together(app, session, across_emails):
    """Eight wrong passwords at the same moment from one client with one failure left (for one
    email, or across emails): one is checked, seven are refused (each attempt waits for the one
    before it to be stored)."""
    make_staff(session)
    outcomes, stored = failures_at_once(get_engine(app), across_emails=across_emails)
    assert sorted(outcomes) == ["failed"] + ["throttled"] * 7
    assert stored == (accounts.MAX_CLIENT_FAILURES if across_emails else accounts.MAX_FAILURES)

