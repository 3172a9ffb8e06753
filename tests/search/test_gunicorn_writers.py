"""The service under gunicorn with several workers, on each backend: staff write concurrently over
HTTP; no request fails on the index lock, no change is lost, and check-index finds no drift afterwards."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session

from directory.db import get_engine
from directory.models import Listing
from directory.search import get_searcher
from directory.search.sync import apply_pending, check_index
from directory.services.accounts import create_staff

ROOT = Path(__file__).resolve().parent.parent.parent
PASSWORD = "a long enough password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn(app, tmp_path):
    pytest.importorskip("gunicorn")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"], "INDEX_DIR": app.config["INDEX_DIR"],
           "SECRET_KEY": app.config["SECRET_KEY"], "SEARCH_BACKEND": app.config["SEARCH_BACKEND"],
           "INSTANCE_PATH": str(tmp_path / "instance"),
           "DIRECTORY_ENV": "development", "MAP_TILE_URL": ""}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "3", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=10) as response:
                response.read()
            break
        except OSError:  # refused while booting, or slow to answer
            time.sleep(0.2)
    else:
        server.kill()
        server.wait(timeout=20)
        message = server.stderr.read().decode()[-2000:]
        server.stderr.close()
        pytest.fail("gunicorn did not start: " + message)
    yield base
    server.terminate()
    server.wait(timeout=20)
    server.stderr.close()


def fetch(opener, url: str, body: bytes | None = None) -> tuple[int, str]:
    try:
        with opener.open(url, body, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


def signed_in(base: str, email: str):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = fetch(opener, base + "/staff/login")[1]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"email": email, "password": PASSWORD, "csrf_token": token}).encode()
    fetch(opener, base + "/staff/login", body)
    # Signing in starts a new session, and with it a new form token.
    page = fetch(opener, base + "/staff/verification")[1]
    return opener, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_concurrent_staff_writes_under_gunicorn(app, session, factory, gunicorn):
    made = [factory.listing(name=f"Clinic {i:02d}", zip="02115", sync=False) for i in range(24)]
    factory.sync()
    create_staff(session, email="v@example.org", role="verifier", password=PASSWORD, actor="test")
    session.commit()
    versions = {listing.id: listing.version for listing in made}

    def verify(lid: int) -> int:
        opener, token = signed_in(gunicorn, "v@example.org")
        body = urllib.parse.urlencode({"csrf_token": token, "method": "phone", "changed": "0",
                                       "version": versions[lid]}).encode()
        return fetch(opener, f"{gunicorn}/staff/verification/{lid}", body)[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(verify, versions))
    assert statuses == [200] * len(versions)  # 303 to the queue, followed

    with Session(get_engine(app)) as fresh:
        verified = fresh.execute(select(Listing.last_verified).where(Listing.id.in_(versions))).scalars().all()
    assert verified == [date.today()] * len(versions)
    with app.app_context():
        assert apply_pending(get_engine(app), get_searcher(app)) == 0  # the workers applied everything
        assert check_index(get_engine(app), get_searcher(app)).ok
    public = app.test_client().get("/api/v1/search?zip=02115&radius=1&per_page=100").get_json()
    assert {r["id"] for r in public["results"] if not r["stale"]} == set(versions)


def multipart(fields: dict[str, str], filename: str, content: str) -> tuple[bytes, str]:
    boundary = "----directory-test-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             for name, value in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f"Content-Type: text/csv\r\n\r\n{content}\r\n--{boundary}--\r\n")
    return "".join(parts).encode(), f"multipart/form-data; boundary={boundary}"


def test_an_import_and_verifications_at_once_under_gunicorn(app, session, factory, gunicorn):
    """An admin's import (300 listings in one request, written in batches) while verifiers work on
    other workers: every request succeeds, nothing is lost, the index matches the database."""
    from directory.importers.template import TEMPLATE_HEADER
    from directory.npi import make_npi

    made = [factory.listing(name=f"Clinic {i:02d}", zip="02115", sync=False) for i in range(16)]
    factory.sync()
    create_staff(session, email="v@example.org", role="verifier", password=PASSWORD, actor="test")
    create_staff(session, email="a@example.org", role="admin", password=PASSWORD, actor="test")
    session.commit()
    versions = {listing.id: listing.version for listing in made}
    rows = [",".join(TEMPLATE_HEADER)]
    for i in range(300):
        values = {"npi": make_npi(500_000 + i, individual=False), "kind": "organization",
                  "name": f"Imported Infusion {i:03d}", "specialties": "261QI0500X",
                  "address": f"{i + 1} Import St", "zip": "02116"}
        rows.append(",".join(values.get(column, "") for column in TEMPLATE_HEADER))
    csv_text = "\r\n".join(rows) + "\r\n"

    def verify(lid: int) -> int:
        opener, token = signed_in(gunicorn, "v@example.org")
        body = urllib.parse.urlencode({"csrf_token": token, "method": "phone", "changed": "0",
                                       "version": versions[lid]}).encode()
        return fetch(opener, f"{gunicorn}/staff/verification/{lid}", body)[0]

    def run_import() -> tuple[int, str]:
        opener, token = signed_in(gunicorn, "a@example.org")
        body, content_type = multipart({"csrf_token": token, "kind": "template", "dry_run": "0"},
                                       "clinics.csv", csv_text)
        request = urllib.request.Request(f"{gunicorn}/staff/imports", data=body,
                                         headers={"Content-Type": content_type})
        return fetch(opener, request)

    with ThreadPoolExecutor(max_workers=6) as pool:
        imported = pool.submit(run_import)
        statuses = list(pool.map(verify, versions))
        status, page = imported.result()
    assert status == 200, page[-2000:]
    assert re.search(r'id="report-created">300<', page), page[-2000:]
    assert statuses == [200] * len(versions)

    with Session(get_engine(app)) as fresh:
        names = fresh.execute(select(Listing.name).where(Listing.name.like("Imported Infusion %"))).scalars().all()
        verified = fresh.execute(select(Listing.last_verified).where(Listing.id.in_(versions))).scalars().all()
    assert len(names) == 300 and verified == [date.today()] * len(versions)
    with app.app_context():
        assert apply_pending(get_engine(app), get_searcher(app)) == 0
        assert check_index(get_engine(app), get_searcher(app)).ok
    public = app.test_client().get("/api/v1/search?q=imported+infusion&per_page=1").get_json()
    assert public["total"] == 300
