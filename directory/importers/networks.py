"""Payer networks and plans from a CSV with columns payer, name, plan_type; upserted by (payer, name).

plan_type is a code from seed_data/plan_types.csv (PPO, HMO, MEDICAID_MANAGED_CARE...). Networks are
not part of any listing's search document, so no index change is queued; each write is audited.
"""

from __future__ import annotations

import csv
from typing import TextIO

from sqlalchemy import select
from sqlmodel import Session

from directory import reference
from directory.importers.upsert import ImportReport, batched
from directory.models import AuditEntry, Network

COLUMNS = ("payer", "name", "plan_type")


def _rows(stream: TextIO, report: ImportReport):
    reader = csv.DictReader(stream)
    if missing := [c for c in COLUMNS if c not in (reader.fieldnames or ())]:
        report.reject(1, "", f"header: missing column {', '.join(missing)}")
        return
    line = 1
    for row in reader:
        start, line = line + 1, reader.line_num
        yield start, {c: (row.get(c) or "").strip() for c in COLUMNS}


def import_networks(session: Session, stream: TextIO, *, actor: str, dry_run: bool = False,
                    batch_size: int = 500) -> ImportReport:
    """Create networks that are new, change the plan type of those that differ; report the rest."""
    report = ImportReport(dry_run=dry_run)
    plan_types = reference.plan_types()
    seen: set[tuple[str, str]] = set()
    for number, batch in enumerate(batched(_rows(stream, report), batch_size), start=1):
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        written = []
        try:
            for line, row in batch:
                key = f"{row['payer']} / {row['name']}"
                if missing := [c for c in COLUMNS if not row[c]]:
                    report.reject(line, key, "; ".join(f"{c}: required" for c in missing))
                    continue
                if row["plan_type"] not in plan_types:
                    report.reject(line, key, f"plan_type: unknown plan type {row['plan_type']!r}")
                    continue
                if (row["payer"], row["name"]) in seen:
                    report.reject(line, key, "duplicate: this payer and name appear earlier in the file")
                    continue
                seen.add((row["payer"], row["name"]))
                written.append((line, key))
                network = session.execute(
                    select(Network).where(Network.payer == row["payer"], Network.name == row["name"])
                ).scalar_one_or_none()
                if network is None:
                    session.add(Network(**row))
                    session.add(AuditEntry(actor=actor, action="network_create",
                                           changes={c: [None, row[c]] for c in COLUMNS}))
                    counts["created"] += 1
                elif network.plan_type != row["plan_type"]:
                    session.add(AuditEntry(actor=actor, action="network_update",
                                           changes={"payer": [network.payer, network.payer],
                                                    "name": [network.name, network.name],
                                                    "plan_type": [network.plan_type, row["plan_type"]]}))
                    network.plan_type = row["plan_type"]
                    counts["updated"] += 1
                else:
                    counts["unchanged"] += 1
            session.flush()
            if dry_run:
                session.rollback()
            else:
                session.commit()
        except Exception as error:  # a failed write undoes the whole batch; the file goes on
            session.rollback()
            for line, key in written:
                report.reject(line, key, f"batch {number} rolled back: {error}")
            continue
        for name, value in counts.items():
            setattr(report, name, getattr(report, name) + value)
    return report
