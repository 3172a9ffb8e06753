"""Crashing real processes: a `flask` command or gunicorn started in a session of its own, watched
until it is in the middle of its work, then SIGKILLed with every process of its group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from directory import create_app
from directory.db import get_engine
from directory.importers.upsert import comparable, snapshot
from directory.models import AuditEntry, IndexChange, Listing, ListingSpecialty, Organization, Practitioner
from directory.search import get_searcher
from directory.search.documents import iter_all_docs
from directory.search.sync import check_index

ROOT = Path(__file__).resolve().parent.parent.parent
POLL = 0.005  # seconds between looks at the work's progress


KEEP = ("DATABASE_URL", "INDEX_DIR", "SECRET_KEY", "SEARCH_BACKEND", "RATELIMIT_DEEP_PAGE")


def restarted(app: Flask) -> Flask:
    """The app as a new process builds it: the same settings, nothing opened yet."""
    return create_app({"TESTING": True, **{key: app.config[key] for key in KEEP}})


def stop(app: Flask) -> None:
    searcher = app.extensions.get("directory.searcher")
    if searcher is not None:
        searcher.close()
    get_engine(app).dispose()


def environment(app: Flask, folder: Path) -> dict[str, str]:
    """The settings of `app` for a process of its own (the CLI, gunicorn)."""
    return {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"], "INDEX_DIR": app.config["INDEX_DIR"],
            "SECRET_KEY": app.config["SECRET_KEY"], "SEARCH_BACKEND": app.config["SEARCH_BACKEND"],
            "INSTANCE_PATH": str(folder / "instance"), "DIRECTORY_ENV": "development", "MAP_TILE_URL": "",
            "RATELIMIT_ENABLED": "false", "GEOCODER": "off"}


class Process:
    """A command in a session of its own (so a kill reaches its children too), output to a file."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path):
        self.log_path = log
        self.log = open(log, "w")  # closed by finish() and kill()
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    @property
    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()

    def wait_for(self, ready: Callable[[], bool], what: str, timeout: float = 240) -> None:
        """Poll until `ready()`; fails if the process ends first (it was not caught mid-way)."""
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None:
                self.log.close()
                pytest.fail(f"the process ended (exit {self.process.returncode}) before {what}:\n{self.output[-3000:]}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"not {what} within {timeout:.0f} s:\n{self.output[-3000:]}")
            time.sleep(POLL)

    def kill(self) -> None:
        """SIGKILL the whole process group: no handler runs, no file or transaction is closed cleanly."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)
        self.log.close()

    def finish(self, timeout: float = 180) -> tuple[int, str]:
        code = self.process.wait(timeout=timeout)
        self.log.close()
        return code, self.log_path.read_text()


def flask_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def start_flask(env: dict[str, str], log: Path, *args: str) -> Process:
    return Process(flask_command(*args), env, log)


def flask(env: dict[str, str], log: Path, *args: str, timeout: float = 180) -> tuple[int, str]:
    """Run a command to its end: (exit code, output)."""
    return start_flask(env, log, *args).finish(timeout)


def assert_check_index_clean(env: dict[str, str], log: Path) -> str:
    code, output = flask(env, log, "check-index")
    assert code == 0 and "index matches the database" in output, output[-3000:]
    return output


def count_rows(engine: Engine, table) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(table)).scalar_one()


def table_exists(engine: Engine, name: str) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": name}).scalar_one())


def open_fd_offset(pid: int, path: Path) -> int:
    """How far process `pid` has read into `path` (its open file's offset; -1 when not open)."""
    target = str(path.resolve())
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return -1
    for fd in fds:
        try:
            if os.readlink(fd) == target:
                fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text()
                              .splitlines() if ":" in line)
                return int(fields["pos"])
        except OSError:
            continue
    return -1


# -- what a crash must leave ---------------------------------------------------------------------------


def listings_by_npi(engine: Engine) -> dict[str, dict]:
    """Every listing as the values an importer compares (its rows: locations, specialties,
    networks, organization or practitioner), with its audit actions and whether it has an outbox
    row, by NPI."""
    found = {}
    with Session(engine) as session:
        actions: dict[int, list[str]] = {}
        for lid, action in session.execute(select(AuditEntry.listing_id, AuditEntry.action)
                                           .order_by(AuditEntry.id)):
            actions.setdefault(lid, []).append(action)
        queued = set(session.execute(select(IndexChange.listing_id)).scalars())
        for listing in session.execute(select(Listing).order_by(Listing.id)).scalars():
            found[listing.npi] = {**comparable(snapshot(session, listing)), "active": listing.active,
                                  "audit": actions.get(listing.id, []), "queued": listing.id in queued}
    return found


def assert_no_half_written_listing(engine: Engine) -> None:
    """Each listing has the rows its write makes in the same transaction that every listing has:
    its kind's own row, a specialty, an audit entry and an outbox row. (Locations: a practitioner
    may have none of their own; the tests compare each listing with an uninterrupted run's.)"""
    with Session(engine) as session:
        def without(model, column=None) -> list[int]:
            column = column if column is not None else model.listing_id
            return session.execute(select(Listing.id).where(~Listing.id.in_(select(column)))).scalars().all()

        lacking = {
            "specialty": without(ListingSpecialty),
            "audit entry": without(AuditEntry),
            "outbox row": without(IndexChange),
            "organization row": [lid for lid in without(Organization, Organization.listing_id)
                                 if session.get(Listing, lid).kind == "organization"],
            "practitioner row": [lid for lid in without(Practitioner, Practitioner.listing_id)
                                 if session.get(Listing, lid).kind == "practitioner"],
        }
    assert {what: ids for what, ids in lacking.items() if ids} == {}


def assert_index_caught_up(original: Flask) -> int:
    """A new process's first search finds every searchable listing, and the index matches the
    database; returns how many it found."""
    app = restarted(original)
    try:
        return _assert_caught_up(app)
    finally:
        stop(app)


def _assert_caught_up(app: Flask) -> int:
    engine = get_engine(app)
    with Session(engine) as session:
        # Searchable: an active listing with a place (a practitioner whose roles an interrupted
        # import had not written yet has none).
        expected = {doc.lid for docs in iter_all_docs(session) for doc in docs if doc.places}
    found: set[int] = set()
    client = app.test_client()
    page = 1
    while True:
        response = client.get("/api/v1/search", query_string={"per_page": 100, "page": page, "sort": "name"})
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        body = response.get_json()
        found |= {r["id"] for r in body["results"]}
        if page * 100 >= body["total"]:
            break
        page += 1
    assert body["total"] == len(expected) and found == expected, (body["total"], len(expected))
    with app.app_context():
        drift = check_index(engine, get_searcher(app))
    assert drift.ok, drift
    return len(found)
