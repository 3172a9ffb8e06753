"""Several processes writing at once (as gunicorn workers would): no index lock error reaches a
writer, no change is lost, and the database and index agree afterwards."""

from __future__ import annotations

from directory.db import get_engine
from directory.search import get_searcher
from directory.search.sync import apply_pending, check_index
from tests.search.writers import renamed_count, write_at_once

WRITERS = 3


def test_concurrent_writers_lose_nothing(app, client):
    settings = {key: app.config[key] for key in ("DATABASE_URL", "INDEX_DIR", "SECRET_KEY", "SEARCH_BACKEND")}
    made = write_at_once([settings] * WRITERS)
    with app.app_context():
        apply_pending(get_engine(app), get_searcher(app))
        report = check_index(get_engine(app), get_searcher(app))
    assert report.ok, report
    body = client.get("/api/v1/search?zip=02115&radius=1&per_page=100").get_json()
    assert sorted(r["id"] for r in body["results"]) == made
    renamed = client.get("/api/v1/search?q=renamed&per_page=100").get_json()
    assert renamed["total"] == renamed_count(WRITERS)
