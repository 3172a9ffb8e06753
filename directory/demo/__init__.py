"""Fictional demo data: payers, networks, organizations and practitioners, deterministic per seed.

`generate(engine, count=..., seed=...)` deletes every demo row (listings and networks flagged
`is_demo`, with their children) and writes `count` new listings in batches with Core bulk inserts.
Primary keys are assigned here (after the current maximum of each table), so rows link to each other
without round trips, and the same seed and count give identical rows, ids included, in a fresh
database. Memory stays bounded: only a batch of rows and a small state per area are kept.

These bulk writes bypass the service layer, so they get no audit entry per listing. Instead each
reseed records one summary entry (actor "seed-demo", action "demo.reseed", changes: demo listings
and demo networks as [removed, added], and the seed), in the same transaction as the deletion, so
demo rows are never removed without a trace; "added" is the count asked for, written in the batches
that follow.

Everything is made up: payer and place names come from seed_data/demo/, phone numbers use the
fictional 555-01xx range, websites are under example.org, NPIs are check-digit-valid serials.
Locations sit exactly on their ZIP centroid (geo_source 'zip_centroid'), unless `geocoded` asks for
points spread within each ZIP (marked as placed by 'demo-spread', not by a geocoder).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime

from sqlalchemy import insert, select, text
from sqlalchemy.engine import Engine

from directory.demo.generator import _Generator
from directory.demo.networks import _networks
from directory.demo.store import _fix_npis, _next_id, audit_reseed, delete_demo, sync_sequences
from directory.demo.vocabulary import IVIG_PRODUCTS, NPI_OVERFLOW_START, Area, Batch, areas
from directory.geocoding.spread import spread_row
from directory.models import Listing, Location, Network, Role

__all__ = ["IVIG_PRODUCTS", "Area", "areas", "delete_demo", "generate"]


def generate(
    engine: Engine,
    *,
    count: int = 3000,
    seed: int = 42,
    progress: Callable[[int], object] | None = None,
    batch_size: int = 2000,
    today: date | None = None,
    geocoded: bool = False,
) -> int:
    """Replace all demo data (rows with is_demo true: listings and networks) with `count` fictional
    listings; return count.

    Deterministic: the same seed, count and `today` give identical rows (ids included) in a fresh
    database, whatever the batch size. `progress(n)` is called after each committed batch with the
    number of listings that batch wrote. Verification dates fall within the 200 days before `today`.
    With `geocoded`, each location sits at its own point spread within its ZIP
    (`directory.geocoding.spread.spread_row`: geocoder 'demo-spread', no geocoder asked) instead of
    the ZIP's centroid.
    """
    if count < 0:
        raise ValueError("count must be zero or more")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    today = today or date.today()
    rng = random.Random(seed)
    areas()  # load the gazetteer before opening a write transaction
    with engine.connect() as conn:
        removed = delete_demo(conn)
        taken = {(payer, name) for payer, name in conn.execute(select(Network.payer, Network.name))}
        networks = _networks(rng, _next_id(conn, Network.id), taken)
        stamp = datetime(today.year, today.month, today.day, tzinfo=UTC)  # like the listings': per seed and day
        for network in networks:
            network["updated_at"] = stamp
        if networks:
            conn.execute(insert(Network.__table__), networks)
        audit_reseed(conn, removed=removed, added=(count, len(networks)), seed=seed)
        conn.commit()
        start = {
            "listing": _next_id(conn, Listing.id),
            "location": _next_id(conn, Location.id),
            "role": _next_id(conn, Role.id),
        }
        generator = _Generator(rng, today, start, networks)
        overflow = [NPI_OVERFLOW_START]
        written = 0
        while written < count:
            size = min(batch_size, count - written)
            batch = Batch()
            for _ in range(size):
                generator.listing(batch)
            _fix_npis(conn, batch, overflow)
            if geocoded:
                for row in batch.locations:
                    spread_row(row, stamp)
            for table, rows in batch.tables():
                if rows:
                    conn.execute(insert(table), rows)
            conn.commit()
            written += size
            if progress is not None:
                progress(size)
        sync_sequences(conn)
    analyze(engine)
    return count


def analyze(engine: Engine) -> None:
    """Refresh the planner's statistics after a bulk load: until autovacuum gets to it, PostgreSQL
    would plan with the empty tables' estimates (seen: 30 ms instead of 1 ms to load a result page)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
