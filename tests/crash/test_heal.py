"""A missing, empty or damaged index is rebuilt from the database when the searcher is first
opened, with one WARNING line, on both backends; a healthy or merely new index is not."""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from directory import create_app
from directory.db import get_engine
from directory.search import get_searcher, rebuild_index
from directory.search.sync import check_index
from tests.backends import BACKENDS
from tests.crash.helpers import KEEP, restarted, stop

LISTINGS = 30
@pytest.fixture
def directory(app, factory):
    """LISTINGS listings, indexed by a full rebuild (so the Whoosh snapshot exists), searcher closed."""
    made = [factory.listing(name=f"Harbor Clinic {i:02d}", zip="02115", sync=False).id for i in range(LISTINGS)]
    factory.sync()
    rebuild_index(app)
    app.extensions["directory.searcher"].close()
    app.extensions["directory.searcher"] = None
    return made


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name == "directory"]


def assert_serves_everything(app, made: list[int]) -> None:
    response = app.test_client().get("/api/v1/search?q=harbor&per_page=100")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert sorted(r["id"] for r in response.get_json()["results"]) == sorted(made)
    with app.app_context():
        drift = check_index(get_engine(app), get_searcher(app))
    assert drift.ok, drift


def assert_healed(app, made, caplog, *words: str) -> None:
    fresh = restarted(app)
    try:
        with caplog.at_level(logging.INFO, logger="directory"):
            assert_serves_everything(fresh, made)
    finally:
        stop(fresh)
    lines = warnings_of(caplog)
    assert len(lines) == 1, lines
    line = lines[0]
    assert f"rebuilt the search index from the database: {len(made)} listings in " in line, line
    for word in words:
        assert word in line, line


# -- Whoosh --------------------------------------------------------------------------------------------


def _segment_file(index: Path, suffix: str) -> Path:
    found = sorted((index / "whoosh").glob(f"*{suffix}"))
    assert found, sorted(p.name for p in (index / "whoosh").iterdir())
    return max(found, key=lambda p: p.stat().st_size)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path: Path) -> None:
    path.write_bytes(np.random.default_rng(7).bytes(path.stat().st_size))


def _other_version(path: Path) -> None:
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["meta_format"] = np.array(1)
    np.savez(path.with_suffix(".tmp.npz"), **arrays)
    path.with_suffix(".tmp.npz").replace(path)


def _empty(index: Path) -> None:
    for entry in index.iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


WHOOSH_DAMAGE = {
    "folder missing": (lambda ix: shutil.rmtree(ix), "missing"),
    "folder empty": (_empty, "missing"),
    "text index missing": (lambda ix: shutil.rmtree(ix / "whoosh"), "missing"),
    "snapshot truncated": (lambda ix: _truncate(ix / "listings.npz"), "unreadable"),
    "snapshot garbage": (lambda ix: _garbage(ix / "listings.npz"), "unreadable"),
    "snapshot empty file": (lambda ix: (ix / "listings.npz").write_bytes(b""), "unreadable"),
    "snapshot of another version": (lambda ix: _other_version(ix / "listings.npz"), "another version"),
    "toc truncated": (lambda ix: _truncate(_segment_file(ix, ".toc")), "unreadable"),
    "toc garbage": (lambda ix: _garbage(_segment_file(ix, ".toc")), "unreadable"),
    "terms truncated": (lambda ix: _truncate(_segment_file(ix, ".trm")), "unreadable"),
    "terms garbage": (lambda ix: _garbage(_segment_file(ix, ".trm")), "unreadable"),
    "postings truncated": (lambda ix: _truncate(_segment_file(ix, ".pst")), "unreadable"),
    "postings garbage": (lambda ix: _garbage(_segment_file(ix, ".pst")), "unreadable"),
    "listing ids truncated": (lambda ix: _truncate(_segment_file(ix, ".lid.col")), "unreadable"),
    "listing ids garbage": (lambda ix: _garbage(_segment_file(ix, ".lid.col")), "unreadable"),
    "stored fields truncated": (lambda ix: _truncate(_segment_file(ix, "._stored.col")), "unreadable"),
    "stored fields garbage": (lambda ix: _garbage(_segment_file(ix, "._stored.col")), "unreadable"),
    "segment file gone": (lambda ix: _segment_file(ix, ".pst").unlink(), "unreadable"),
}


@pytest.mark.parametrize("damage", list(WHOOSH_DAMAGE))
def test_a_damaged_whoosh_index_is_rebuilt_at_open(app, directory, caplog, damage):
    harm, word = WHOOSH_DAMAGE[damage]
    harm(Path(app.config["INDEX_DIR"]))
    assert_healed(app, directory, caplog, word, app.config["INDEX_DIR"])


# -- PostgreSQL ----------------------------------------------------------------------------------------

POSTGRES_DAMAGE = {
    "tables missing": ("DROP TABLE search_meta, search_listing, search_point, search_count, search_rollup",
                       "missing"),
    "one table missing": ("DROP TABLE search_count", "search_count"),
    "tables emptied": ("TRUNCATE search_listing, search_point, search_count, search_rollup", "empty"),
    "tables of another layout": ("UPDATE search_meta SET value = '0' WHERE key = 'layout'", "another version"),
}


@pytest.mark.parametrize("backend", ["postgres"])
@pytest.mark.parametrize("damage", list(POSTGRES_DAMAGE))
def test_damaged_postgres_search_tables_are_rebuilt_at_open(app, directory, caplog, damage):
    statement, word = POSTGRES_DAMAGE[damage]
    with get_engine(app).begin() as conn:
        conn.execute(text(statement))
    assert_healed(app, directory, caplog, word, "PostgreSQL")


# -- what is not healed ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_healthy_index_opens_without_a_rebuild(app, directory, caplog):
    fresh = restarted(app)
    try:
        with caplog.at_level(logging.INFO, logger="directory"):
            assert_serves_everything(fresh, directory)
    finally:
        stop(fresh)
    assert warnings_of(caplog) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_new_index_fed_by_the_outbox_is_not_a_damaged_one(app, factory, caplog):
    """First start: no index yet and every listing's change still pending (the outbox fills it)."""
    if app.config["SEARCH_BACKEND"] == "whoosh":
        shutil.rmtree(app.config["INDEX_DIR"], ignore_errors=True)
    made = [factory.listing(name=f"Harbor Clinic {i}", sync=False).id for i in range(3)]
    with caplog.at_level(logging.INFO, logger="directory"):
        assert_serves_everything(app, made)
    assert warnings_of(caplog) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_empty_directory_needs_no_rebuild(app, caplog):
    shutil.rmtree(app.config["INDEX_DIR"], ignore_errors=True)
    with caplog.at_level(logging.INFO, logger="directory"):
        assert_serves_everything(app, [])
    assert warnings_of(caplog) == []


# -- two processes at once -------------------------------------------------------------------------


def _open_at_once(settings: dict, barrier, results) -> None:
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.WARNING:
                lines.append(record.getMessage())

    logging.getLogger("directory").addHandler(Keep())
    app = create_app(settings)
    try:
        barrier.wait(timeout=60)
        response = app.test_client().get("/api/v1/search?q=harbor&per_page=100")
        results.put((os.getpid(), response.status_code, response.get_json()["total"], lines))
    except Exception as error:  # reported to the parent, which fails the test
        results.put((os.getpid(), repr(error), 0, lines))
    finally:
        stop(app)


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_processes_opening_a_damaged_index_at_once_rebuild_it_once(app, directory):
    if app.config["SEARCH_BACKEND"] == "whoosh":
        _garbage(Path(app.config["INDEX_DIR"]) / "listings.npz")
    else:
        with get_engine(app).begin() as conn:
            conn.execute(text("UPDATE search_meta SET value = '0' WHERE key = 'layout'"))
    settings = {"TESTING": True, **{key: app.config[key] for key in KEEP}}
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    processes = [context.Process(target=_open_at_once, args=(settings, barrier, results)) for _ in range(2)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert [(status, total) for _, status, total, _ in outcomes] == [(200, LISTINGS)] * 2, outcomes
    lines = [line for *_, found in outcomes for line in found]
    assert len(lines) == 1 and "rebuilt the search index" in lines[0], lines
