"""A referring physician: specialty + network -> export CSV (exactly the results) and print."""

from __future__ import annotations

import csv

from playwright.sync_api import expect


def read_csv(path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_specialty_and_network_then_csv(page, live_data):
    page.goto("/")
    page.get_by_label("ZIP, City, ST").fill("02115")
    page.locator("#specialty-filter").fill("207RR0500X")
    page.get_by_label("Insurance network", exact=True).select_option(label="Harbor Select PPO")
    page.get_by_label("Within").select_option("50")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#result-count")).to_contain_text("1 place")
    shown = [int(x) for x in page.locator("article.result-card").evaluate_all("els => els.map(e => e.dataset.id)")]
    assert shown == [live_data["listings"]["rheum"].id]
    expect(page.locator("article.result-card .npi")).to_contain_text(live_data["listings"]["rheum"].npi)

    with page.expect_download() as download:
        page.locator("#export-csv").click()
    rows = read_csv(download.value.path())
    assert [int(r["id"]) for r in rows] == shown
    assert rows[0]["npi"] == live_data["listings"]["rheum"].npi


def test_csv_holds_every_page(page, live_data):
    page.goto("/?zip=02115&radius=50&per_page=2&sort=name")
    expect(page.locator("#result-count")).to_contain_text("5 places")
    with page.expect_download() as download:
        page.locator("#export-csv").click()
    rows = read_csv(download.value.path())
    names = [r["name"] for r in rows]
    assert len(rows) == 5 and names == sorted(names)


def test_printable_referral_list(page, live_data):
    page.goto("/?zip=02115&radius=50")
    page.locator("#print-list").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Referral list")
    assert page.locator("table.referral-table tbody tr").count() == 5
    page.emulate_media(media="print")
    # expect() retries until the print stylesheet applies; is_visible() read it once, too early in
    # one CI run out of several.
    expect(page.locator(".site-header")).to_be_hidden()
