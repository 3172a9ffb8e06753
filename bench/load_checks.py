"""After the load run (bench/load.py): every acknowledged write is in the database, the audit log and
the search results, nothing refused was written, and `check-index` finds no drift.

The checks, per listing written to:
- no two acknowledged writes were made from the same version (a lost update), and its version now
  is its version before the run plus the acknowledged writes (none lost, none extra);
- the audit log holds, since the run began, one entry per acknowledged write by the staff member
  who made it (an edit's entry with the name it wrote) and none for a refused one;
- its name is the one written by the last acknowledged edit, and a search for that name's token
  finds it, while a search for a token an earlier edit wrote (since replaced) does not;
and every acknowledged problem report is stored, with no report stored that was not acknowledged.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import requests
from sqlalchemy import Engine, text

from bench.load_clients import TOKEN, Write

ROOT = Path(__file__).resolve().parent.parent
SUPERSEDED_SEARCHES = 100  # replaced tokens searched for (each must not find its listing)


@dataclass(frozen=True)
class Before:
    """The database just before the run: each listing's version and the last ids of the logs."""

    versions: dict[int, int]
    last_audit_id: int
    last_report_id: int


def snapshot(engine: Engine) -> Before:
    with engine.connect() as conn:
        versions = dict(conn.execute(text("select id, version from listing")).all())
        last_audit = conn.execute(text("select coalesce(max(id), 0) from auditentry")).scalar_one()
        last_report = conn.execute(text("select coalesce(max(id), 0) from problemreport")).scalar_one()
    return Before(versions, last_audit, last_report)


def check_writes(engine: Engine, before: Before, writes: list[Write], actors: set[str]) -> tuple[list[str], dict]:
    """Problems with the acknowledged writes against the database and the audit log."""
    problems: list[str] = []
    by_listing: dict[int, list[Write]] = defaultdict(list)
    for write in writes:
        by_listing[write.listing_id].append(write)
    with engine.connect() as conn:
        rows = conn.execute(text("select id, listing_id, actor, action, changes from auditentry where id > :last "
                                 "order by id"), {"last": before.last_audit_id}).all()
        now = dict(conn.execute(text("select id, version from listing")).all())
        names = dict(conn.execute(text("select id, name from listing")).all())
    entries: dict[int, list] = defaultdict(list)
    for row in rows:
        if row.actor in actors:
            entries[row.listing_id].append(row)
    for lid in sorted(set(by_listing) | set(entries)):
        acked = by_listing.get(lid, [])
        seen = Counter(w.expected_version for w in acked)
        for version, times in sorted(seen.items()):
            if times > 1:
                problems.append(f"listing {lid}: {times} writes acknowledged from version {version} (a lost update)")
        expected = before.versions.get(lid, 0) + len(acked)
        if now.get(lid) != expected:
            problems.append(f"listing {lid}: version {now.get(lid)}, expected {expected} "
                            f"({before.versions.get(lid)} before the run + {len(acked)} acknowledged writes)")
        wanted = Counter((w.actor, "update" if w.kind == "edit" else "verify", w.name) for w in acked)
        logged = Counter((row.actor, "update" if row.action == "update" else
                          "verify" if row.action.startswith("verify.") else row.action,
                          _written_name(row) if row.action == "update" else None) for row in entries.get(lid, []))
        if wanted != logged:
            missing, extra = wanted - logged, logged - wanted
            problems.append(f"listing {lid}: audit log differs from the acknowledged writes "
                            f"(not logged: {sorted(missing.items())[:3]}; logged, not acknowledged: "
                            f"{sorted(extra.items())[:3]})")
        edits = [w for w in acked if w.kind == "edit"]
        if edits:
            last = max(edits, key=lambda w: w.expected_version)
            if names.get(lid) != last.name:
                problems.append(f"listing {lid}: name {names.get(lid)!r}, but the last acknowledged edit "
                                f"(from version {last.expected_version}) wrote {last.name!r}")
    figures = {"listings_written": len(by_listing), "audit_entries_by_load_staff": sum(map(len, entries.values()))}
    return problems, figures


def _written_name(row) -> str | None:
    changes = row.changes
    if isinstance(changes, str):
        changes = json.loads(changes)
    pair = (changes or {}).get("name")
    return pair[1] if isinstance(pair, list) and len(pair) == 2 else None


def check_reports(engine: Engine, before: Before, reports: list[tuple[int, str]]) -> tuple[list[str], dict]:
    with engine.connect() as conn:
        stored = Counter(tuple(row) for row in conn.execute(
            text("select listing_id, details from problemreport where id > :last"), {"last": before.last_report_id}))
    acked = Counter(reports)
    problems = []
    if missing := acked - stored:
        problems.append(f"{sum(missing.values())} acknowledged reports not stored, e.g. {list(missing)[:3]}")
    if extra := stored - acked:
        problems.append(f"{sum(extra.values())} reports stored that were not acknowledged, e.g. {list(extra)[:3]}")
    return problems, {"reports_stored": sum(stored.values())}


def found_by_search(base: str, token: str, lid: int) -> bool:
    response = requests.get(f"{base}/api/v1/search", params={"q": token, "per_page": 100}, timeout=60)
    response.raise_for_status()
    return any(card["id"] == lid for card in response.json()["results"])


def check_search(base: str, writes: list[Write]) -> tuple[list[str], dict]:
    """The last name each listing got is found by search; names it had before that are not."""
    edits: dict[int, list[Write]] = defaultdict(list)
    for write in writes:
        if write.kind == "edit":
            edits[write.listing_id].append(write)
    problems, superseded = [], []
    for lid, acked in sorted(edits.items()):
        acked.sort(key=lambda w: w.expected_version)
        token = TOKEN.search(acked[-1].name).group().strip()
        if not found_by_search(base, token, lid):
            problems.append(f"listing {lid}: a search for {token!r} (its name now) does not find it")
        superseded += [(lid, TOKEN.search(w.name).group().strip()) for w in acked[:-1]]
    for lid, token in superseded[:SUPERSEDED_SEARCHES]:
        if found_by_search(base, token, lid):
            problems.append(f"listing {lid}: a search for {token!r} (a name it no longer has) still finds it")
    return problems, {"names_searched": len(edits), "replaced_names_searched": min(len(superseded),
                                                                                   SUPERSEDED_SEARCHES)}


def check_index(env: dict[str, str]) -> tuple[list[str], dict]:
    """`flask --app wsgi check-index` on the run's settings: exit 0, no drift."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "check-index"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)
    output = (done.stdout + done.stderr).strip()
    problems = [] if done.returncode == 0 else [f"check-index exited {done.returncode}: {output[-1500:]}"]
    return problems, {"check_index_exit": done.returncode, "check_index_output": output.splitlines()[:8]}
