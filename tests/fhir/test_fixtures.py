"""The vendored Plan-Net package is the one published on npm, unchanged (see NOTICE)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

PLAN_NET = Path(__file__).resolve().parent.parent / "fixtures" / "plan-net"


def test_vendored_files_match_their_checksums():
    listed = {}
    for line in (PLAN_NET / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    present = {str(path.relative_to(PLAN_NET)) for path in PLAN_NET.rglob("*.json")}
    assert present == set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((PLAN_NET / name).read_bytes()).hexdigest() == digest, name


def test_the_package_is_plan_net_1_2_0_under_cc0():
    package = json.loads((PLAN_NET / "package.json").read_text())
    assert (package["name"], package["version"], package["license"]) == (
        "hl7.fhir.us.davinci-pdex-plan-net", "1.2.0", "CC0-1.0")
    assert (PLAN_NET / "PACKAGE.sha256").read_text().split() == [
        "0629806cef4159e1b649630a58f3f02d29e2232d46bec90d47c736b565c0e910",
        "hl7.fhir.us.davinci-pdex-plan-net-1.2.0.tgz",
    ]
