"""Export every listing: as our CSV template (re-importable) or as JSON lines (one listing a line)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import TextIO

from sqlalchemy import select
from sqlmodel import Session

from directory.importers.template import TEMPLATE_HEADER
from directory.importers.upsert import snapshot
from directory.models import Listing, Network


def _listings(session: Session, batch_size: int = 500) -> Iterator[Listing]:
    """All listings in id order, read a batch at a time."""
    last = 0
    while True:
        batch = session.execute(
            select(Listing).where(Listing.id > last).order_by(Listing.id).limit(batch_size)
        ).scalars().all()
        if not batch:
            return
        yield from batch
        last = batch[-1].id


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def export_csv(session: Session, stream: TextIO) -> int:
    """Write one template row per listing-location; returns the number of listings written."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(TEMPLATE_HEADER)
    count = 0
    for listing in _listings(session):
        data = snapshot(session, listing)
        base = {
            "npi": data.npi, "kind": data.kind, "name": data.name, "first_name": data.first_name or "",
            "last_name": data.last_name or "", "credentials": data.credentials or "",
            "org_type": data.org_type if data.kind == "organization" else "",
            "specialties": ";".join(data.specialties), "networks": ";".join(map(str, data.networks)),
            "accepting_new_patients": _yes(data.accepting_new_patients), "telehealth": _yes(data.telehealth),
            "languages": ";".join(data.languages), "services": ";".join(data.services),
            "website": data.website or "", "ivig_products": ";".join(data.ivig_products),
            "active": _yes(listing.active),
        }
        for loc in data.locations:
            row = base | {
                "address": loc.address, "city": loc.city, "state": loc.state, "zip": loc.zip,
                "phone": loc.phone or "", "fax": loc.fax or "", "location_name": loc.name or "",
                "wheelchair_accessible": _yes(loc.wheelchair_accessible),
            }
            writer.writerow([row[column] for column in TEMPLATE_HEADER])
        count += 1
    return count


def listing_record(session: Session, listing: Listing, networks: dict[int, Network]) -> dict:
    """Everything about a listing as plain JSON values; networks named by payer and name."""
    data = snapshot(session, listing)
    record = {
        "npi": data.npi, "kind": data.kind, "name": data.name, "active": listing.active,
        "source": listing.source, "version": listing.version,
        "last_verified": listing.last_verified.isoformat() if listing.last_verified else None,
        "verified_by": listing.verified_by, "verification_method": listing.verification_method,
        "accepting_new_patients": data.accepting_new_patients, "telehealth": data.telehealth,
        "languages": data.languages, "services": data.services, "website": data.website,
        "specialties": data.specialties, "primary_specialty": data.primary_specialty,
        "networks": [{"payer": networks[n].payer, "name": networks[n].name, "plan_type": networks[n].plan_type}
                     for n in data.networks],
        "locations": [
            {"name": loc.name, "address": loc.address, "city": loc.city, "state": loc.state, "zip": loc.zip,
             "phone": loc.phone, "fax": loc.fax, "hours": loc.hours,
             "wheelchair_accessible": loc.wheelchair_accessible}
            for loc in data.locations
        ],
    }
    if data.kind == "organization":
        record |= {"org_type": data.org_type, "ivig_products": data.ivig_products}
    else:
        record |= {"first_name": data.first_name, "last_name": data.last_name, "credentials": data.credentials}
    return record


def export_jsonl(session: Session, stream: TextIO) -> int:
    """Write one JSON object per listing per line; returns the number of listings written."""
    networks = {n.id: n for n in session.execute(select(Network)).scalars()}
    count = 0
    for listing in _listings(session):
        stream.write(json.dumps(listing_record(session, listing, networks), ensure_ascii=False) + "\n")
        count += 1
    return count
