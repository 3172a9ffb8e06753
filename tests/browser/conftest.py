"""Browser tests: the real app on a local port, driven by Playwright in Debian's headless Chromium.

Chromium comes from the system (`apt-get install chromium`, done by scripts/test); Playwright never
downloads a browser. The browser is started with no network features, so nothing leaves the
machine; map tiles are switched off (the page must work without them). Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from sqlmodel import Session
from werkzeug.serving import make_server

from directory import create_app
from directory.cli import init_db
from directory.db import get_engine
from tests.factories import Factory

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--metrics-recording-only", "--mute-audio",
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def chromium_path():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed: `apt-get install chromium` (scripts/test does it as root)")
    return CHROMIUM


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    """One app with a real SQLite file and Whoosh index, served on a free local port."""
    folder = tmp_path_factory.mktemp("browser")
    app = create_app({
        "TESTING": True,
        "DATABASE_URL": f"sqlite:///{folder / 'browser.sqlite3'}",
        "INDEX_DIR": str(folder / "index"),
        "SECRET_KEY": "browser-tests",
        "MAP_TILE_URL": "",
    })
    with app.app_context():
        init_db()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["LIVE_URL"] = f"http://127.0.0.1:{server.server_port}"
    yield app
    server.shutdown()
    thread.join(timeout=10)
    searcher = app.extensions.get("directory.searcher")
    if searcher is not None:
        searcher.close()
    get_engine(app).dispose()


@pytest.fixture(scope="session")
def live_data(live_app):
    """A small, known directory around Boston: what the flows below search for."""
    with Session(get_engine(live_app), expire_on_commit=False) as session:
        make = Factory(live_app, session)
        harbor = make.network(name="Harbor Select PPO", payer="Harbor Health")
        summit = make.network(name="Summit Care HMO", payer="Summit Mutual", plan_type="HMO")
        listings = {
            "fenway": make.listing(name="Fenway Infusion Center", zip="02115", sync=False,
                                   networks=[harbor.id], accepting_new_patients=True, services=["ivig"],
                                   ivig_products=["Privigen", "Gamunex-C"]),
            "cambridge": make.listing(name="Cambridge Home Infusion", zip="02139", sync=False,
                                      networks=[summit.id], services=["home_infusion", "ivig"],
                                      specialties=["3336H0001X"], org_type="home_infusion"),
            "rheum": make.listing(kind="practitioner", name="Grace Hopper, MD", first_name="Grace",
                                  last_name="Hopper", zip="02116", specialties=["207RR0500X"],
                                  networks=[harbor.id], accepting_new_patients=True, sync=False),
            "neuro": make.listing(kind="practitioner", name="Alan Turing, MD", first_name="Alan",
                                  last_name="Turing", zip="02114", specialties=["2084N0400X"],
                                  networks=[summit.id], telehealth=True, sync=False),
            "worcester": make.listing(name="Worcester Infusion Suites", zip="01608",
                                      networks=[harbor.id], sync=False),
        }
        make.sync()
    return {"networks": {"harbor": harbor, "summit": summit}, "listings": listings}


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_app, live_data, request):
    context = browser.new_context(base_url=live_app.config["LIVE_URL"], viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield page
    shoot(page, request.node.name)
    context.close()
    assert blocked == [], "the page broke its own Content-Security-Policy"


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
    page.screenshot(path=str(ARTIFACTS / f"{safe}.png"), full_page=True)


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core (served from our own files) on the page; violations of the given impacts."""
    # Through the DevTools protocol: the page's Content-Security-Policy (rightly) refuses a script tag
    # with inline content, and the test tool is not the page.
    page.context.new_cdp_session(page).send("Runtime.evaluate", {"expression": AXE.read_text()})
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"] if v["impact"] in impacts
    ]
