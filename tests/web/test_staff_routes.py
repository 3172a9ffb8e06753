"""Staff command line, and the rule that every state-changing route needs sign-in and a CSRF token."""

from __future__ import annotations

import json

from sqlalchemy import select

from directory.models import AuditEntry, StaffUser
from directory.services import accounts
from tests.web.test_staff_auth import ANONYMOUS_FORMS, PASSWORD, csrf_token, make_staff, sign_in, text

# --- command line ------------------------------------------------------------------------------

def test_cli_create_staff_reads_password_from_stdin(runner, session):
    result = runner.invoke(args=["create-staff", "Boss@Example.org", "--role", "admin", "--password-stdin"],
                           input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "created admin account boss@example.org" in result.output
    staff = session.execute(select(StaffUser)).scalar_one()
    assert staff.role == "admin" and staff.password_hash.startswith("scrypt:")
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "staff.create")).scalar_one()
    assert entry.actor == "cli" and PASSWORD not in json.dumps(entry.changes)
    assert accounts.authenticate(session, "boss@example.org", PASSWORD, "cli-test").id == staff.id


def test_cli_create_staff_prompts_twice(runner, session):
    result = runner.invoke(args=["create-staff", "ed@example.org"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden input
    assert session.execute(select(StaffUser.role)).scalar_one() == "editor"


def test_cli_create_staff_refuses_a_short_password(runner, session):
    result = runner.invoke(args=["create-staff", "a@example.org", "--password-stdin"], input="short\n")
    assert result.exit_code == 1
    assert "password: Use at least 12 characters." in result.output
    assert session.execute(select(StaffUser)).first() is None


# --- every state-changing route ------------------------------------------------------------------

# The one POST that needs no token: FHIR's `POST [type]/_search` is a search with its parameters in a
# form body. It changes nothing, needs no sign-in, reads no cookie, and answers JSON a cross-site
# form cannot read, so a forged request gains nothing (tests/fhir/test_search_post.py shows it).
READ_ONLY_POSTS = {"fhir.search_post"}


def _unsafe_rules(app):
    for rule in app.url_map.iter_rules():
        methods = sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"})
        if methods and rule.endpoint not in READ_ONLY_POSTS:
            url = rule.build({arg: 1 for arg in rule.arguments}, append_unknown=False)[1]
            yield rule, url, methods


def test_every_state_changing_route_refuses_anonymous_and_tokenless_requests(app, client, factory):
    listing = factory.listing(name="Fenway Infusion Center")
    rules = list(_unsafe_rules(app))
    assert {rule.endpoint for rule, _, _ in rules} >= ANONYMOUS_FORMS | {"staff.logout", "staff.accounts_page"}
    token = csrf_token(client)
    for rule, url, methods in rules:
        if rule.endpoint == "providers.report":
            url = f"/providers/{listing.id}/report"
        for method in methods:
            tokenless = client.open(url, method=method, data={})
            assert tokenless.status_code == 400, (rule, method, tokenless.status_code)
            assert "security token" in text(tokenless)
            if rule.endpoint in ANONYMOUS_FORMS:
                continue  # anyone may send these, with the token
            anonymous = client.open(url, method=method, data={"csrf_token": token},
                                    headers={"X-CSRFToken": token})
            if anonymous.status_code == 302:
                assert anonymous.location.startswith("/staff/login?next="), (rule, anonymous.location)
            else:
                assert anonymous.status_code in (401, 403, 404), (rule, method, anonymous.status_code)


def test_signed_in_staff_still_need_the_token(client, session):
    admin = make_staff(session)
    sign_in(client)
    for url in ("/staff/accounts", f"/staff/accounts/{admin.id}/active", "/staff/logout"):
        assert client.post(url, data={"active": "0", "email": "z@example.org"}).status_code == 400
    assert client.get("/staff/").status_code == 200
