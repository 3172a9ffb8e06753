"""The read model gives the same JSON on SQLite and PostgreSQL for the same demo data: listing
pages (plain rows through the driver's cursor) and search pages (stored cards)."""

from __future__ import annotations

from datetime import date

import pytest

from directory import demo
from directory.db import get_engine
from directory.search import rebuild_index
from tests.backends import close_app, make_app

pytestmark = pytest.mark.backends("postgres")  # needs the server


@pytest.fixture(scope="module")
def apps(tmp_path_factory, request):
    server = request.getfixturevalue("postgres_server")
    made = [make_app("whoosh", tmp_path_factory.mktemp("sqlite")),
            make_app("postgres", tmp_path_factory.mktemp("pg"), server)]
    for app in made:
        with app.app_context():
            demo.generate(get_engine(app), count=300, seed=5, today=date(2026, 1, 1))
            rebuild_index(app)
    yield made
    for app in made:
        close_app(app)


def test_listing_pages_and_search_pages_are_the_same_json(apps):
    sqlite, pg = (app.test_client() for app in apps)
    kinds = set()
    for lid in range(1, 301, 7):
        a, b = sqlite.get(f"/api/v1/providers/{lid}"), pg.get(f"/api/v1/providers/{lid}")
        assert (a.status_code, a.get_json()) == (b.status_code, b.get_json()), lid
        kinds.add((a.status_code, a.get_json().get("kind"), bool(a.get_json().get("roles"))))
    assert {(200, "organization", False), (200, "practitioner", True)} <= kinds
    for url in ("/api/v1/search?zip=10016&radius=50", "/api/v1/search?q=infusion&sort=name&per_page=50",
                "/api/v1/search?zip=60611&radius=100&q=dermatomyositis+ivig"):
        a, b = sqlite.get(url), pg.get(url)
        assert a.status_code == b.status_code == 200
        assert a.get_json() == b.get_json(), url
        assert a.get_json()["results"], url
