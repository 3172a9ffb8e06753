"""The public search page, CSV export and referral list, through the test client (no JavaScript)."""

from __future__ import annotations

import csv
import io
import os
import re
from html.parser import HTMLParser
from urllib.parse import unquote_plus

import pytest


class Cards(HTMLParser):
    """Collects result card ids and field error messages from a page."""

    def __init__(self):
        super().__init__()
        self.ids: list[int] = []
        self.errors: dict[str, str] = {}
        self._error_for: str | None = None
        self.inputs: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "article" and "result-card" in (attrs.get("class") or ""):
            self.ids.append(int(attrs["data-id"]))
        if tag == "p" and attrs.get("class") == "error":
            self._error_for = attrs["id"].removesuffix("-error")
        if tag == "input" and attrs.get("name") and attrs.get("type") not in ("checkbox", "hidden"):
            self.inputs[attrs["name"]] = attrs.get("value", "")

    def handle_data(self, data):
        if self._error_for:
            self.errors[self._error_for] = data.strip()
            self._error_for = None


def page(client, url):
    response = client.get(url)
    parsed = Cards()
    parsed.feed(response.get_data(as_text=True))
    return response, parsed


@pytest.fixture
def boston(factory):
    network = factory.network(name="Harbor Select PPO", payer="Harbor Health")
    near = factory.listing(name="Fenway Infusion Center", zip="02115", networks=[network.id],
                           accepting_new_patients=True, services=["ivig"])
    far = factory.listing(name="Worcester Infusion Suites", zip="01608", accepting_new_patients=False)
    doctor = factory.listing(kind="practitioner", name="Ada Lovelace, MD", zip="02116",
                             specialties=["207RR0500X"], networks=[network.id])
    return {"network": network, "near": near, "far": far, "doctor": doctor}


def test_home_page_is_a_complete_form(client):
    response, parsed = page(client, "/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for name in ("place", "q"):
        assert name in parsed.inputs
    for control in ("place", "radius", "q", "network", "specialty", "language", "sort"):
        assert re.search(rf'<label for="{control}"', html), control
    assert 'id="result-count"' not in html  # no search yet


def test_a_zip_alone_searches_25_miles_by_distance(client, boston):
    response, parsed = page(client, "/?zip=02115")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert parsed.ids == [boston["near"].id, boston["doctor"].id]  # Worcester is ~40 miles away
    assert re.search(r"2 places\s+within 25 miles of 02115", html)
    assert 'aria-live="polite"' in html


def test_wider_radius_and_filters(client, boston):
    _, parsed = page(client, "/?zip=02115&radius=50")
    assert parsed.ids == [boston["near"].id, boston["doctor"].id, boston["far"].id]
    _, parsed = page(client, f"/?zip=02115&radius=50&network={boston['network'].id}")
    assert parsed.ids == [boston["near"].id, boston["doctor"].id]
    _, parsed = page(client, "/?zip=02115&radius=50&accepting=true")
    assert parsed.ids == [boston["near"].id]
    _, parsed = page(client, "/?zip=02115&radius=50&specialty=207RR0500X")
    assert parsed.ids == [boston["doctor"].id]


def test_cards_show_what_a_patient_and_a_referrer_need(client, boston):
    response, _ = page(client, "/?zip=02115&radius=5")
    html = response.get_data(as_text=True)
    assert 'href="tel:+16175550100"' in html
    assert f"NPI {boston['near'].npi}" in html
    assert "Harbor Select PPO" in html
    assert "Accepting new patients" in html
    assert "Never verified" in html  # factory listings have no verification yet: stale warning


@pytest.mark.parametrize(
    ("url", "field"),
    [("/?zip=99999", "place"), ("/?zip=abc", "place"), ("/?place=99999", "place"),
     ("/?place=Xyzzyville%2C+MA", "place"), ("/?place=1+Main+St%2C+Boston", "place"),
     ("/?zip=02115&radius=9000", "radius"),
     ("/?zip=02115&radius=-1", "radius"), ("/?zip=02115&specialty=XYZ", "specialty"),
     ("/?zip=02115&network=999999", "network"), ("/?q=" + "x" * 201, "q")],
)
def test_bad_input_is_explained_next_to_the_field_and_kept(client, url, field):
    response, parsed = page(client, url)
    assert response.status_code == 200
    assert field in parsed.errors and parsed.errors[field]
    if field in ("place", "q"):  # what was typed stays in its box (a link's zip= shows in the place box)
        assert parsed.inputs[field] == unquote_plus(url.split("=", 1)[1].split("&")[0])


def test_empty_result_offers_one_click_widening(client, boston):
    response, _ = page(client, f"/?zip=02115&radius=5&network={boston['network'].id}&q=zzzzzz")
    html = response.get_data(as_text=True)
    assert "0 places" in html
    links = dict(re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', html))
    assert "Search within 10 miles" in links.values()
    widen = next(href for href, label in links.items() if label == "Show without the words you typed")
    _, parsed = page(client, "/" + widen.replace("&amp;", "&"))
    assert parsed.ids == [boston["near"].id, boston["doctor"].id]


def test_facet_links_refine_the_search(client, boston):
    response, _ = page(client, "/?zip=02115&radius=50")
    html = response.get_data(as_text=True)
    link = re.search(r'href="(\?[^"]*kind=practitioner[^"]*)"', html).group(1).replace("&amp;", "&")
    _, parsed = page(client, "/" + link)
    assert parsed.ids == [boston["doctor"].id]


def test_pages_are_stable_and_complete(client, factory):
    made = [factory.listing(name=f"Clinic {i:02d}", zip="02115", sync=False) for i in range(25)]
    factory.sync()
    seen = []
    for number in (1, 2):
        _, parsed = page(client, f"/?zip=02115&sort=name&page={number}")
        seen += parsed.ids
    assert seen == [listing.id for listing in made]


def test_csv_export_holds_every_result_of_every_page(client, factory):
    made = [factory.listing(name=f"Clinic {i:02d}", zip="02115", sync=False) for i in range(45)]
    factory.sync()
    response = client.get("/export.csv?zip=02115&sort=name&page=2")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [int(r["id"]) for r in rows] == [listing.id for listing in made]
    assert rows[0]["npi"] == made[0].npi and rows[0]["phone"] == "(617) 555-0100"
    assert client.get("/export.csv?zip=99999").status_code == 400


FORMULAS = ['=HYPERLINK("http://evil.example","click")', "+1+2", "-2+3", "@SUM(A1)"]


def test_csv_export_cells_never_start_a_spreadsheet_formula(client, factory):
    from directory.csvcells import restore

    network = factory.network(name="=1+1 Network", payer="@Payer")
    made = {factory.listing(name=name, zip="02115", networks=[network.id], sync=False).id: name
            for name in FORMULAS}
    factory.sync()
    response = client.get("/export.csv?zip=02115&sort=name")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == len(FORMULAS) + 1
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    for row in csv.DictReader(io.StringIO(response.get_data(as_text=True))):
        assert restore(row["name"]) == made[int(row["id"])]
        assert row["networks"] == "'=1+1 Network"


def test_referral_list_is_printable(client, boston):
    response = client.get("/referrals?zip=02115&radius=50")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count("<tr data-id=") == 3
    for text in (boston["near"].npi, "(617) 555-0100", "Harbor Select PPO"):
        assert text in html
    with client.get("/static/css/site.css") as stylesheet:
        assert "@media print" in stylesheet.get_data(as_text=True)


def test_unknown_pages_get_the_site_404_page(client):
    response = client.get("/providers/987654")
    assert response.status_code == 404
    assert "We could not find that page or listing" in response.get_data(as_text=True)
    assert client.get("/no-such-page").status_code == 404


def test_an_index_from_another_version_gives_503_not_500(app, client, factory):
    """Swapped in while this process serves (another version's reindex): it is not rebuilt over
    (tests/crash/test_heal.py: a process that opens such an index rebuilds it)."""
    import numpy as np

    factory.listing()
    from directory.cli import reindex

    with app.app_context():
        reindex()
    snapshot = f"{app.config['INDEX_DIR']}/listings.npz"
    with np.load(snapshot) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["meta_format"] = np.array(1)

    def swap():  # a new file each time: the searcher reloads a snapshot when the file changed
        np.savez(snapshot + ".new.npz", **arrays)
        os.replace(snapshot + ".new.npz", snapshot)

    fresh = app.test_client()
    swap()
    response = fresh.get("/api/v1/search?zip=02115")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "index_unavailable"
    swap()
    page = fresh.get("/?zip=02115")
    assert page.status_code == 503 and "being rebuilt" in page.get_data(as_text=True)
