"""A patient: ZIP -> filter by network -> open a listing -> report a problem. With and without JS."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlmodel import Session

from directory.db import get_engine
from tests.browser.conftest import shoot
from tests.factories import Factory


def result_names(page) -> list[str]:
    return page.locator("article.result-card h3").all_inner_texts()


def markers_shown(page) -> int:
    """Listings on the map: single markers, plus the count on each group's marker."""
    single = len(page.locator("#map .leaflet-marker-icon:not(.marker-cluster)").all())
    grouped = sum(int(text.split()[0]) for text in page.locator("#map .marker-cluster span").all_inner_texts()
                  if text.split() and text.split()[0].isdigit())
    return single + grouped


def test_city_search_shows_approximate_distances_and_groups_markers_at_one_point(page, live_app, live_data):
    """Three listings at one ZIP's centre are one numbered marker; a click fans them out."""
    with Session(get_engine(live_app), expire_on_commit=False) as session:
        make = Factory(live_app, session)
        for name in ("Loop Infusion North", "Loop Infusion South", "Loop Infusion West"):
            make.listing(name=name, zip="60601")
    page.goto("/")
    page.get_by_label("ZIP, City, ST").fill("chicago, il")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#result-count")).to_contain_text("3 places within 25 miles of Chicago, IL")
    distances = page.locator("article.result-card .distance").all_inner_texts()
    assert len(distances) == 3 and all(d.startswith("about ") and d.endswith(" mi") for d in distances)
    cluster = page.locator("#map .marker-cluster")
    expect(cluster).to_have_count(1)
    expect(cluster).to_contain_text("3")
    assert markers_shown(page) == 3
    cluster.click()  # one point: spiderfied into its three markers
    expect(page.locator("#map .leaflet-marker-icon:not(.marker-cluster)")).to_have_count(3)


def test_an_ambiguous_city_offers_its_matches(page, live_data):
    page.goto("/")
    page.get_by_label("ZIP, City, ST").fill("Springfield")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#place-error")).to_contain_text("more than one Springfield")
    expect(page.get_by_label("ZIP, City, ST")).to_have_value("Springfield")
    page.get_by_role("link", name="Springfield, MA").click()
    expect(page.locator("#result-count")).to_contain_text("within 25 miles of Springfield, MA")


def test_zip_network_listing_report(page, live_data):
    page.goto("/")
    page.get_by_label("ZIP, City, ST").fill("02115")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#result-count")).to_contain_text("within 25 miles of 02115")
    assert "Fenway Infusion Center" in result_names(page)
    assert "Worcester Infusion Suites" not in result_names(page)  # about 40 miles away

    # Type-ahead narrows the long network list, then the search keeps only that network.
    page.locator("#network-filter").fill("summit")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#result-count")).to_contain_text("2 places")
    assert sorted(result_names(page)) == ["Alan Turing, MD", "Cambridge Home Infusion"]
    shoot(page, "patient-filtered")

    page.get_by_role("link", name="Cambridge Home Infusion").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cambridge Home Infusion")
    form = page.locator("#report-form")
    form.get_by_label("What is wrong?").select_option(index=1)
    form.get_by_label("Details").fill("The phone number rings a fax machine.")
    form.get_by_role("button", name="Send report").click()
    expect(page.locator(".flash-success")).to_be_visible()


def test_map_is_drawn_from_local_files_and_the_list_stays_without_tiles(page, live_data):
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto("/?zip=02115&radius=10")
    expect(page.locator("#map .leaflet-marker-icon").first).to_be_visible()
    assert len(result_names(page)) == 4
    assert markers_shown(page) == 4  # each marker alone, or counted in its group
    assert all(url.startswith(page.url.split("/?")[0]) for url in requests), "nothing from outside"


def test_without_javascript_the_search_still_works(browser, live_app, live_data):
    context = browser.new_context(base_url=live_app.config["LIVE_URL"], java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/")
        page.get_by_label("ZIP, City, ST").fill("02115")
        page.get_by_label("Insurance network", exact=True).select_option(label="Harbor Select PPO")
        page.get_by_label("Accepting new patients").check()
        page.get_by_role("button", name="Search").click()
        expect(page.locator("#result-count")).to_contain_text("2 places")
        assert sorted(result_names(page)) == ["Fenway Infusion Center", "Grace Hopper, MD"]
        page.get_by_role("link", name="Fenway Infusion Center").click()
        expect(page.locator("#report-form")).to_be_visible()
        shoot(page, "no-javascript")
    finally:
        context.close()


def test_bad_zip_is_explained_next_to_the_field_and_kept(page, live_data):
    page.goto("/")
    page.get_by_label("ZIP, City, ST").fill("99999")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#place-error")).to_contain_text("99999")
    expect(page.get_by_label("ZIP, City, ST")).to_have_value("99999")
    expect(page.get_by_label("ZIP, City, ST")).to_have_attribute("aria-invalid", "true")


def test_phone_sized_screen(browser, live_app, live_data):
    context = browser.new_context(base_url=live_app.config["LIVE_URL"], viewport={"width": 360, "height": 740},
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto("/?zip=02115&radius=10")
        expect(page.locator("#result-count")).to_contain_text("4 places")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"the page scrolls sideways on a phone ({width}px)"
        card = page.locator("article.result-card").first.bounding_box()
        assert card["width"] <= 360
        shoot(page, "phone-results")
    finally:
        context.close()
