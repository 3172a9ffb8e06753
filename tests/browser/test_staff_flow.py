"""Staff: sign in -> edit a listing -> the change is in public search -> verify it -> the audit trail."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlmodel import Session

from directory.db import get_engine
from directory.services.accounts import create_staff
from tests.browser.conftest import shoot
from tests.factories import Factory

PASSWORD = "correct horse battery staple"


def test_sign_in_edit_search_verify_audit(page, live_app):
    with Session(get_engine(live_app), expire_on_commit=False) as session:
        create_staff(session, email="ada@example.org", role="admin", password=PASSWORD, actor="test")
        session.commit()
        listing = Factory(live_app, session).listing(name="Murray Hill Infusion", zip="10016")

    page.goto("/staff/login")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url("/staff/login")

    page.goto(f"/staff/listings/{listing.id}/edit")
    page.locator("#name").fill("Murray Hill Infusion Suites")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".flash-success")).to_be_visible()

    page.goto("/?zip=10016&radius=5&q=suites")
    expect(page.locator("article.result-card h3")).to_have_text(["Murray Hill Infusion Suites"])
    expect(page.locator("article.result-card .verified")).to_contain_text("Never verified")

    page.goto("/staff/verification")
    row = page.locator(f"#queue-{listing.id}")
    row.get_by_role("button", name="Verified, no change").click()
    expect(page.locator(".flash-success")).to_be_visible()

    page.goto("/?zip=10016&radius=5&q=suites")
    expect(page.locator("article.result-card .verified")).to_contain_text("Verified on")

    page.goto(f"/staff/audit?listing_id={listing.id}")
    expect(page.locator("main")).to_contain_text("verify.no_change")
    expect(page.locator("main")).to_contain_text("Murray Hill Infusion Suites")
    shoot(page, "staff-audit")
