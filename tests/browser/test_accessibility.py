"""Automated accessibility scan (axe-core from our own files) and keyboard use of every public page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import axe_violations


def pages(live_data):
    fenway = live_data["listings"]["fenway"].id
    return ["/", "/?zip=02115&radius=25", "/?zip=99999", "/?zip=02115&radius=5&q=zzzzzz",
            f"/providers/{fenway}", "/what-to-expect", "/referrals?zip=02115&radius=50"]


@pytest.mark.parametrize("index", range(7))
def test_no_serious_or_critical_violations(page, live_data, index):
    url = pages(live_data)[index]
    page.goto(url)
    assert axe_violations(page) == [], url


def test_no_violations_on_a_phone(browser, live_app, live_data):
    context = browser.new_context(base_url=live_app.config["LIVE_URL"], viewport={"width": 360, "height": 740})
    page = context.new_page()
    try:
        page.goto("/?zip=02115&radius=25")
        assert axe_violations(page) == []
    finally:
        context.close()


def test_search_by_keyboard_alone(page, live_data):
    page.goto("/")
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    page.get_by_label("ZIP, City, ST").focus()
    page.keyboard.type("02115")
    page.keyboard.press("Enter")
    expect(page.locator("#result-count")).to_contain_text("within 25 miles of 02115")
    expect(page.locator("#result-count")).to_have_attribute("aria-live", "polite")
