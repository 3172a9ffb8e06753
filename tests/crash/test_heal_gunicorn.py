"""gunicorn (2 workers) started on a deleted index folder or dropped search tables: the first
requests, spread over both workers at once, all find every listing; one rebuild, one WARNING line."""

from __future__ import annotations

import json
import shutil
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from bench.gunicorn import Server
from directory.db import get_engine
from tests.backends import BACKENDS
from tests.crash.helpers import environment

pytest.importorskip("gunicorn")

LISTINGS = 30
REQUESTS = 16
STATIC = "/static/css/site.css"


def total(url: str) -> int:
    with urllib.request.urlopen(url, timeout=120) as response:
        return json.load(response)["total"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_gunicorn_workers_starting_on_a_lost_index_rebuild_it_once(app, factory, tmp_path):
    for i in range(LISTINGS):
        factory.listing(name=f"Harbor Clinic {i}", sync=False)
    factory.sync()  # applied: the outbox will not bring them back
    app.extensions["directory.searcher"].close()
    app.extensions["directory.searcher"] = None
    if app.config["SEARCH_BACKEND"] == "postgres":
        with get_engine(app).begin() as conn:
            conn.execute(text("DROP TABLE search_meta, search_listing, search_point, search_count, search_rollup"))
    else:
        shutil.rmtree(app.config["INDEX_DIR"])

    with Server(environment(app, tmp_path), workers=2, log_path=tmp_path / "gunicorn.log") as server:
        server.wait_for(STATIC)  # serving, and no worker has opened the searcher yet
        url = f"{server.base}/api/v1/search?q=harbor"
        with ThreadPoolExecutor(REQUESTS) as pool:
            totals = list(pool.map(lambda _: total(url), range(REQUESTS)))
        log = server.log_tail(500)
    assert totals == [LISTINGS] * REQUESTS, log
    lines = [line for line in log.splitlines() if "WARNING" in line]
    assert len(lines) == 1 and f"rebuilt the search index from the database: {LISTINGS} listings in" in lines[0], log
