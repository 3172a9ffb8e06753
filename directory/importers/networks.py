"""Payer networks and plans from a CSV with columns payer, name, plan_type; upserted by (payer, name).

plan_type is a code from seed_data/plan_types.csv (PPO, HMO, MEDICAID_MANAGED_CARE...). Networks are
not part of any listing's search document, so no index change is queued; each write is audited.
The file is ours, so every cell is read through `csvcells.restore` (a payer name that a CSV we
wrote neutralised, `'=Acme`, reads back as `=Acme`).
"""

from __future__ import annotations

import csv
from typing import TextIO

from sqlalchemy import select
from sqlmodel import Session

from directory import reference
from directory.csvcells import restore
from directory.importers.upsert import ImportReport, Outcome, write_batches
from directory.models import AuditEntry, Network, utcnow

COLUMNS = ("payer", "name", "plan_type")


def _rows(stream: TextIO, report: ImportReport):
    """(line, row) for each row that can be written; the others go straight to the report."""
    reader = csv.DictReader(stream)
    if missing := [c for c in COLUMNS if c not in (reader.fieldnames or ())]:
        report.reject(1, "", f"header: missing column {', '.join(missing)}")
        return
    plan_types = reference.plan_types()
    seen: set[tuple[str, str]] = set()
    line = 1
    for row in reader:
        start, line = line + 1, reader.line_num
        row = {c: (restore(row.get(c)) or "").strip() for c in COLUMNS}
        key = f"{row['payer']} / {row['name']}"
        if missing := [c for c in COLUMNS if not row[c]]:
            report.reject(start, key, "; ".join(f"{c}: required" for c in missing))
        elif row["plan_type"] not in plan_types:
            report.reject(start, key, f"plan_type: unknown plan type {row['plan_type']!r}")
        elif (row["payer"], row["name"]) in seen:
            report.reject(start, key, "duplicate: this payer and name appear earlier in the file")
        else:
            seen.add((row["payer"], row["name"]))
            yield start, row


def import_networks(session: Session, stream: TextIO, *, actor: str, dry_run: bool = False,
                    batch_size: int = 500) -> ImportReport:
    """Create networks that are new, change the plan type of those that differ; report the rest.

    Written in batches like listings (`upsert.write_batches`): a row the database refuses is
    rejected alone, with its line, and the rest of its batch is written.
    """
    report = ImportReport(dry_run=dry_run)

    def write(db: Session, item: tuple[int, dict], outcome: Outcome) -> None:
        _line, row = item
        network = db.execute(
            select(Network).where(Network.payer == row["payer"], Network.name == row["name"])
        ).scalar_one_or_none()
        if network is None:
            db.add(Network(**row))
            db.add(AuditEntry(actor=actor, action="network_create", changes={c: [None, row[c]] for c in COLUMNS}))
            outcome.counts["created"] += 1
        elif network.plan_type != row["plan_type"]:
            db.add(AuditEntry(actor=actor, action="network_update",
                              changes={"payer": [network.payer, network.payer], "name": [network.name, network.name],
                                       "plan_type": [network.plan_type, row["plan_type"]]}))
            network.plan_type = row["plan_type"]
            network.updated_at = utcnow()  # its FHIR resources' meta.lastUpdated
            outcome.counts["updated"] += 1
            outcome.fields["plan_type"] += 1
        else:
            outcome.counts["unchanged"] += 1
        db.flush()

    return write_batches(session, _rows(stream, report), report, write=write, dry_run=dry_run,
                         batch_size=batch_size, where=lambda item: (item[0], f"{item[1]['payer']} / {item[1]['name']}"))
