"""Export every listing: as our CSV template (re-importable) or as JSON lines (a lossless staff export).

CSV (`export_csv`): our template (`directory.importers.template`), one row per listing-location, and
one row without a location for a practitioner who has none of its own; roles are in `practices_at`.
Every cell goes through `csvcells.neutralise`, so no cell runs as a spreadsheet formula;
`import-csv` restores them.

JSON lines (`export_jsonl`), UTF-8, one JSON object per line, read back by `import-jsonl`:

1. first, one line per network, by id:
   `{"network": {"id": 3, "payer": "...", "name": "...", "plan_type": "PPO", "is_demo": false}}`
2. then one line per listing, by id: `{"listing": {...}}` with
   - `id, npi, kind, name, active, source, is_demo, version, created_at, updated_at` (ISO 8601
     date-times as stored, UTC), `last_verified` (ISO date), `verified_by` (the staff account: a
     staff export keeps who verified), `verification_method`;
   - `accepting_new_patients, telehealth, languages, services, website, specialties` (primary
     first), `primary_specialty`;
   - `networks`: `[{"id", "start_date", "end_date"}]` (ids of the network lines, ISO dates or null);
   - `locations`: `[{"id", "name", "address", "city", "state", "zip", "lat", "lon", "geo_source",
     "phone", "fax", "hours", "wheelchair_accessible"}]` by id (lat/lon in degrees); a location placed
     by a geocoder adds `"geocoder", "geo_quality", "geocoded_at", "address_hash"`;
   - `roles` (practitioners): `[{"organization_npi", "location_id", "address", "zip",
     "specialty_code", "accepting_new_patients", "telehealth"}]` by role id; `organization_npi` is
     null for a role at one of the practitioner's own locations, `location_id` is the id of that
     location in this file;
   - organizations: `org_type, ivig_products, chairs, pediatric, prior_auth_help`;
     practitioners: `first_name, last_name, credentials, gender`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import TextIO

from sqlalchemy import select
from sqlmodel import Session

from directory.csvcells import neutralise_row
from directory.importers.roles import format_practices_at, stored_refs
from directory.importers.template import TEMPLATE_HEADER
from directory.importers.upsert import snapshot
from directory.models import Listing, Location, Network, Organization, Participation, Practitioner


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
    """Write one template row per listing-location (one row for a practitioner with no location of
    its own); returns the number of listings written."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(neutralise_row(TEMPLATE_HEADER))
    count = 0
    for listing in _listings(session):
        data = snapshot(session, listing)
        practitioner = data.kind == "practitioner"
        base = {
            "npi": data.npi, "kind": data.kind, "name": data.name, "first_name": data.first_name or "",
            "last_name": data.last_name or "", "credentials": data.credentials or "",
            "org_type": data.org_type if not practitioner else "",
            "specialties": ";".join(data.specialties), "networks": ";".join(map(str, data.networks)),
            "accepting_new_patients": _yes(data.accepting_new_patients), "telehealth": _yes(data.telehealth),
            "languages": ";".join(data.languages), "services": ";".join(data.services),
            "website": data.website or "", "ivig_products": ";".join(data.ivig_products),
            "active": _yes(listing.active),
            "practices_at": format_practices_at(stored_refs(session, listing.id)) if practitioner else "",
        }
        empty = dict.fromkeys(("address", "city", "state", "zip", "phone", "fax", "location_name"), "")
        rows = [base | {
            "address": loc.address, "city": loc.city, "state": loc.state, "zip": loc.zip,
            "phone": loc.phone or "", "fax": loc.fax or "", "location_name": loc.name or "",
            "wheelchair_accessible": _yes(loc.wheelchair_accessible),
        } for loc in data.locations] or [base | empty | {"wheelchair_accessible": "no"}]
        for row in rows:
            writer.writerow(neutralise_row(row[column] for column in TEMPLATE_HEADER))
        count += 1
    return count


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def network_record(network: Network) -> dict:
    return {"id": network.id, "payer": network.payer, "name": network.name, "plan_type": network.plan_type,
            "is_demo": network.is_demo}


def _geocoded(loc: Location) -> dict:
    """A placed location's geocoder fields (none for one at its ZIP centroid, as files before had)."""
    if loc.geo_source == "zip_centroid" and loc.address_hash is None:
        return {}
    return {"geocoder": loc.geocoder, "geo_quality": loc.geo_quality, "geocoded_at": _iso(loc.geocoded_at),
            "address_hash": loc.address_hash}


def listing_record(session: Session, listing: Listing, networks: dict | None = None) -> dict:
    """Everything the database knows about a listing, as plain JSON values (see the module docstring).
    `networks` is accepted for older callers and not needed."""
    data = snapshot(session, listing)
    lid = listing.id
    participation = session.execute(
        select(Participation).where(Participation.listing_id == lid).order_by(Participation.network_id)
    ).scalars().all()
    locations = session.execute(select(Location).where(Location.listing_id == lid).order_by(Location.id)).scalars()
    record = {
        "id": lid, "npi": listing.npi, "kind": listing.kind, "name": listing.name, "active": listing.active,
        "source": listing.source, "is_demo": listing.is_demo, "version": listing.version,
        "created_at": _iso(listing.created_at), "updated_at": _iso(listing.updated_at),
        "last_verified": _iso(listing.last_verified), "verified_by": listing.verified_by,
        "verification_method": listing.verification_method,
        "accepting_new_patients": listing.accepting_new_patients, "telehealth": listing.telehealth,
        "languages": list(listing.languages), "services": list(listing.services), "website": listing.website,
        "specialties": data.specialties, "primary_specialty": data.primary_specialty,
        "networks": [{"id": p.network_id, "start_date": _iso(p.start_date), "end_date": _iso(p.end_date)}
                     for p in participation],
        "locations": [
            {"id": loc.id, "name": loc.name, "address": loc.address, "city": loc.city, "state": loc.state,
             "zip": loc.zip, "lat": loc.lat, "lon": loc.lon, "geo_source": loc.geo_source, "phone": loc.phone,
             "fax": loc.fax, "hours": loc.hours, "wheelchair_accessible": loc.wheelchair_accessible,
             **_geocoded(loc)}
            for loc in locations
        ],
    }
    if listing.kind == "organization":
        org = session.get(Organization, lid)
        record |= {"org_type": data.org_type, "ivig_products": data.ivig_products,
                   "chairs": org.chairs if org else None, "pediatric": org.pediatric if org else False,
                   "prior_auth_help": org.prior_auth_help if org else False}
    else:
        prac = session.get(Practitioner, lid)
        record |= {"first_name": data.first_name, "last_name": data.last_name, "credentials": data.credentials,
                   "gender": prac.gender if prac else None,
                   "roles": [{"organization_npi": ref.organization_npi, "location_id": ref.location_id,
                              "address": ref.address, "zip": ref.zip, "specialty_code": ref.fields[0],
                              "accepting_new_patients": ref.fields[1], "telehealth": ref.fields[2]}
                             for ref in stored_refs(session, lid)]}
    return record


def export_jsonl(session: Session, stream: TextIO) -> int:
    """Write the networks, then one listing per line (see the module docstring); returns the number
    of listings written."""
    for network in session.execute(select(Network).order_by(Network.id)).scalars():
        stream.write(json.dumps({"network": network_record(network)}, ensure_ascii=False) + "\n")
    count = 0
    for listing in _listings(session):
        stream.write(json.dumps({"listing": listing_record(session, listing)}, ensure_ascii=False) + "\n")
        count += 1
    return count
