"""Import the JSON lines that `export-jsonl` writes (format: `directory.exports`), upserting by NPI.

Networks are matched by id when the id holds the same payer and name, else by (payer, name), else
created (with the file's id when it is free). Listings are matched by NPI and written through the
service (`restore.save_listing`, `set_active`, `restore.set_participation`, `restore.restore_fields`),
audited, in all-or-nothing batches; then every practitioner's roles (`importers.roles`), so an
organization may come after its practitioners. Every line ends reported.

Into an empty database the restore is exact: listing, location and network ids are kept when they
are free, and so are version, created and updated times (only for listings this import creates:
a stored listing's version only moves forward), verification fields, participation dates,
coordinates and their source (a geocoded point with the hash of its own address is kept and not
queued for geocoding again), the demo flag and each role's fields. A listing whose record equals
the stored one (ids and times aside) is unchanged and not written.

A dry run writes nothing: each line is checked (service validation; networks, organizations and
locations may be in the database or earlier in the file) and counted as it would be.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import TextIO

from sqlalchemy import event, select
from sqlmodel import Session

from directory.demo.store import sync_sequences
from directory.exports import listing_record
from directory.importers.roles import PendingRoles, RoleRef, apply_roles, place_key
from directory.importers.upsert import ImportReport, Outcome, write_batches
from directory.models import AuditEntry, Listing, Location, Network
from directory.services.listings import ListingInput, LocationInput, set_active, validate
from directory.services.restore import restore_fields, save_listing, set_participation

RECORD_TIMES = ("version", "created_at", "updated_at")
IGNORED = ("id", *RECORD_TIMES)


def _lines(stream: TextIO, report: ImportReport) -> Iterator[tuple[int, str, dict]]:
    """(line, "network" | "listing", record); unreadable lines go straight to the report."""
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
            (kind, record), = value.items()
            if kind not in ("network", "listing") or not isinstance(record, dict):
                raise ValueError(f"unknown record type {kind!r}")
            if kind == "listing" and not isinstance(record.get("npi"), str):
                raise ValueError("a listing needs an npi")
        except (ValueError, AttributeError) as error:
            report.reject(number, "", f"not a network or listing record: {error}")
            continue
        yield number, kind, record


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _datetime(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def listing_input(record: dict, network_ids: dict[int, int], location_ids: dict) -> ListingInput:
    """The service input a listing record describes; ids of networks and locations mapped to stored ones."""
    organization = record["kind"] == "organization"
    return ListingInput(
        kind=record["kind"], npi=record["npi"], name=record["name"], specialties=list(record["specialties"]),
        primary_specialty=record.get("primary_specialty"),
        locations=[LocationInput(address=loc["address"], zip=loc["zip"], city=loc.get("city") or "",
                                 state=loc.get("state") or "", name=loc.get("name"), phone=loc.get("phone"),
                                 fax=loc.get("fax"), hours=dict(loc.get("hours") or {}),
                                 wheelchair_accessible=bool(loc.get("wheelchair_accessible")),
                                 id=location_ids.get(loc.get("id")))
                   for loc in record.get("locations", [])],
        networks=[network_ids.get(n["id"], n["id"]) for n in record.get("networks", [])],
        accepting_new_patients=bool(record.get("accepting_new_patients")), telehealth=bool(record.get("telehealth")),
        languages=list(record.get("languages", ["en"])), services=list(record.get("services", [])),
        website=record.get("website"),
        first_name=None if organization else record.get("first_name"),
        last_name=None if organization else record.get("last_name"),
        credentials=None if organization else record.get("credentials"),
        org_type=record.get("org_type") or "infusion_center", ivig_products=list(record.get("ivig_products") or []),
        source=record.get("source") or "import",
    )


def record_fields(record: dict, *, created: bool) -> dict:
    """The fields `restore_fields` sets (record times and version only on a listing just created)."""
    values = {"is_demo": bool(record.get("is_demo")), "last_verified": _date(record.get("last_verified")),
              "verified_by": record.get("verified_by"), "verification_method": record.get("verification_method")}
    for name in ("chairs", "pediatric", "prior_auth_help", "gender"):
        if name in record:
            values[name] = record[name]
    if created:
        values |= {"version": record["version"], "created_at": _datetime(record.get("created_at")),
                   "updated_at": _datetime(record.get("updated_at"))}
    return values


def _geocoded(loc: dict) -> dict:
    """A location's geocoder fields as stored (absent from the file: none, at a ZIP centroid)."""
    return {"geocoder": loc.get("geocoder"), "geo_quality": loc.get("geo_quality"),
            "geocoded_at": _datetime(loc.get("geocoded_at")), "address_hash": loc.get("address_hash")}


def _refs(record: dict) -> list[RoleRef]:
    return [RoleRef(organization_npi=role.get("organization_npi"), address=role["address"], zip=role["zip"],
                    location_id=role.get("location_id"),
                    fields=(role.get("specialty_code"), bool(role.get("accepting_new_patients")),
                            bool(role.get("telehealth"))))
            for role in record.get("roles") or []]


@contextmanager
def _keeping_ids(session: Session, record: dict):
    """While creating the listing of `record`, give it and its locations the file's ids when free."""
    listing_id = record.get("id") if isinstance(record.get("id"), int) else None
    if listing_id is not None and session.get(Listing, listing_id) is not None:
        listing_id = None
    wanted: dict[tuple, list[int]] = {}
    for loc in record.get("locations", []):
        if isinstance(loc.get("id"), int) and session.get(Location, loc["id"]) is None:
            wanted.setdefault(place_key(loc["address"], loc["zip"]), []).append(loc["id"])

    def assign(db, _context, _instances) -> None:
        for row in db.new:
            if isinstance(row, Listing) and row.id is None and row.npi == record["npi"] and listing_id is not None:
                row.id = listing_id
            elif isinstance(row, Location) and row.id is None and wanted.get(place_key(row.address, row.zip)):
                row.id = wanted[place_key(row.address, row.zip)].pop(0)

    event.listen(session, "before_flush", assign)
    try:
        yield
    finally:
        event.remove(session, "before_flush", assign)


def _comparable(record: dict, network_ids: dict, location_ids: dict) -> dict:
    """A record with ids mapped to stored ones and the record times left out, for "unchanged"."""
    values = {k: v for k, v in record.items() if k not in IGNORED}
    values["networks"] = sorted(({**n, "id": network_ids.get(n["id"], n["id"])} for n in record.get("networks", [])),
                                key=lambda n: n["id"])
    values["locations"] = [{**loc, "id": location_ids.get(loc.get("id"), loc.get("id"))}
                           for loc in record.get("locations", [])]
    if "roles" in record:
        values["roles"] = [{**role, "location_id": location_ids.get(role.get("location_id"), role.get("location_id"))}
                           for role in record["roles"]]
    return values


class JsonlImport:
    """One import: the maps from the file's ids to stored ones, and the roles still to write."""

    def __init__(self, session: Session, report: ImportReport, actor: str, dry_run: bool):
        self.session, self.report, self.actor, self.dry_run = session, report, actor, dry_run
        self.network_ids: dict[int, int] = {}
        self.location_ids: dict[int, int] = {}
        self.pending: list[PendingRoles] = []
        self.file_places: dict[str, set] = {}
        self.file_networks: set[int] = set()

    def write(self, db: Session, item: tuple[int, str, dict], outcome: Outcome) -> None:
        line, kind, record = item
        if kind == "network":
            self._network(db, line, record, outcome)
        elif self.dry_run:
            self._check_listing(db, line, record, outcome)
        else:
            self._listing(db, line, record, outcome)

    def _network(self, db: Session, line: int, record: dict, outcome: Outcome) -> None:
        key = f"{record.get('payer')} / {record.get('name')}"
        if not all(record.get(c) for c in ("payer", "name", "plan_type")):
            outcome.reject(line, key, "network: payer, name and plan_type are required")
            return
        network = db.get(Network, record["id"]) if isinstance(record.get("id"), int) else None
        if network is None or (network.payer, network.name) != (record["payer"], record["name"]):
            network = db.execute(select(Network).where(Network.payer == record["payer"],
                                                       Network.name == record["name"])).scalar_one_or_none()
        values = {"plan_type": record["plan_type"], "is_demo": bool(record.get("is_demo"))}
        if network is None:
            free = isinstance(record.get("id"), int) and db.get(Network, record["id"]) is None
            network = Network(id=record["id"] if free else None, payer=record["payer"], name=record["name"], **values)
            db.add(network)
            db.flush()
            db.add(AuditEntry(actor=self.actor, action="network_create",
                              changes={c: [None, getattr(network, c)] for c in ("id", "payer", "name", *values)}))
            outcome.counts["created"] += 1
        elif any(getattr(network, c) != v for c, v in values.items()):
            db.add(AuditEntry(actor=self.actor, action="network_update",
                              changes={c: [getattr(network, c), v] for c, v in values.items()
                                       if getattr(network, c) != v}))
            for name, value in values.items():
                setattr(network, name, value)
            outcome.counts["updated"] += 1
        else:
            outcome.counts["unchanged"] += 1
        self.network_ids[record["id"]] = network.id
        self.file_networks.add(network.id if network.id is not None else record["id"])

    def _listing(self, db: Session, line: int, record: dict, outcome: Outcome) -> None:
        npi = record["npi"]
        listing = db.execute(select(Listing).where(Listing.npi == npi)).scalar_one_or_none()
        if listing is not None:
            stored = listing_record(db, listing)
            if listing.kind != record.get("kind"):
                outcome.reject(line, npi, f"kind: this NPI is already listed as {listing.kind}")
                return
            self._map_locations(db, listing.id, record)
            before = _comparable(stored, {}, {})
            after = _comparable(record, self.network_ids, self.location_ids)
            changes = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k) and k != "roles")
        data = listing_input(record, self.network_ids, self.location_ids if listing is not None else {})
        if errors := validate(db, data):
            outcome.reject(line, npi, "; ".join(f"{k}: {v}" for k, v in errors.items()))
            return
        if listing is None:
            with _keeping_ids(db, record):
                listing = save_listing(db, None, data, self.actor)
            self._map_locations(db, listing.id, record)
            outcome.counts["created"] += 1
            self._finish(db, listing, record, created=True)
            state = "created"
        elif changes:
            if {"name", "kind", "npi", "specialties", "primary_specialty", "locations", "networks",
                "accepting_new_patients", "telehealth", "languages", "services", "website", "first_name",
                "last_name", "credentials", "org_type", "ivig_products"} & set(changes):
                save_listing(db, listing.id, data, self.actor)
                self._map_locations(db, listing.id, record)
            self._finish(db, listing, record, created=False)
            outcome.counts["updated"] += 1
            outcome.fields.update(changes)
            state = "updated"
        else:
            outcome.counts["unchanged"] += 1
            state = "unchanged"
        if record.get("kind") == "practitioner":
            self.pending.append(PendingRoles(npi, line, _refs(record)))
            outcome.listed_as[npi] = state

    def _finish(self, db: Session, listing: Listing, record: dict, *, created: bool) -> None:
        """What the listing service does not set: active, participation dates, record fields."""
        if bool(record.get("active", True)) != listing.active:
            set_active(db, listing.id, bool(record.get("active", True)), self.actor)
        set_participation(db, listing.id, {
            self.network_ids.get(n["id"], n["id"]): (_date(n.get("start_date")), _date(n.get("end_date")))
            for n in record.get("networks", [])}, self.actor)
        coordinates = {self.location_ids[loc["id"]]: {"lat": loc["lat"], "lon": loc["lon"],
                                                      "geo_source": loc.get("geo_source", "zip_centroid"),
                                                      **_geocoded(loc)}
                       for loc in record.get("locations", []) if loc.get("id") in self.location_ids
                       and "lat" in loc}
        restore_fields(db, listing.id, record_fields(record, created=created), coordinates, self.actor)

    def _map_locations(self, db: Session, listing_id: int, record: dict) -> None:
        """Map the file's location ids to this listing's stored locations (by id, else by place)."""
        stored = db.execute(select(Location).where(Location.listing_id == listing_id)
                            .order_by(Location.id)).scalars().all()
        by_id = {loc.id: loc for loc in stored}
        free = list(stored)
        for loc in record.get("locations", []):
            match = by_id.get(self.location_ids.get(loc.get("id"), loc.get("id")))
            if match is None or match not in free:
                match = next((s for s in free if place_key(s.address, s.zip) == place_key(loc["address"], loc["zip"])),
                             None)
            if match is not None and loc.get("id") is not None:
                self.location_ids[loc["id"]] = match.id
                free.remove(match)

    def _check_listing(self, db: Session, line: int, record: dict, outcome: Outcome) -> None:
        """Dry run: validate and count without writing (networks may be the file's own)."""
        npi = record["npi"]
        data = listing_input(record, self.network_ids, {})
        known = [n for n in data.networks if n in self.file_networks]
        data.networks = [n for n in data.networks if n not in self.file_networks]
        if errors := validate(db, data):
            outcome.reject(line, npi, "; ".join(f"{k}: {v}" for k, v in errors.items()))
            return
        data.networks += known
        listing = db.execute(select(Listing).where(Listing.npi == npi)).scalar_one_or_none()
        if listing is None:
            outcome.counts["created"] += 1
        else:
            self._map_locations(db, listing.id, record)
            before = _comparable(listing_record(db, listing), {}, {})
            after = _comparable(record, self.network_ids, self.location_ids)
            changes = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            outcome.counts["updated" if changes else "unchanged"] += 1
            outcome.fields.update(changes)
        self.file_places[npi] = {place_key(loc["address"], loc["zip"]) for loc in record.get("locations", [])}
        if record.get("kind") == "practitioner":
            self.pending.append(PendingRoles(npi, line, _refs(record)))


def import_jsonl(session: Session, stream: TextIO, *, actor: str, dry_run: bool = False,
                 batch_size: int = 500) -> ImportReport:
    """Upsert the networks and listings of an `export-jsonl` file, then the practitioners' roles."""
    report = ImportReport()
    run = JsonlImport(session, report, actor, dry_run)
    write_batches(session, _lines(stream, report), report, write=run.write, dry_run=dry_run, batch_size=batch_size,
                  where=lambda item: (item[0], item[2].get("npi") or f"{item[2].get('payer')} / {item[2].get('name')}"))
    if dry_run:
        for item in run.pending:  # roles are checked against the database and the file only
            item.refs = [RoleRef(ref.organization_npi, ref.address, ref.zip) for ref in item.refs]
    apply_roles(session, run.pending, report, actor=actor, dry_run=dry_run, batch_size=batch_size,
                location_ids=run.location_ids, file_places=run.file_places)
    if not dry_run:
        with session.get_bind().connect() as conn:  # explicit ids were written: move the sequences past them
            sync_sequences(conn)
    return report
