"""The PostgreSQL backend's tables: their layout, writing rows and counts, and the rebuild
(documents become rows in `rows`).

- `search_listing`: one row per (listing, place) with everything search filters, counts and
  orders by. Text fields are `tsvector`s of the terms our own analyzer makes (the same stems and
  stop words as the Whoosh backend); `pid` names the row's place, `key` its area (rows are kept
  and indexed in area order: the listings around a point are a few runs of the area index).
- `search_point`: each distinct place once, as a point on the unit sphere (a `cube`, GiST index):
  a search by place alone finds the nearest places for its page by the index's nearest-neighbour
  order.
- `search_rollup`: per cell of a grid (`cells`), how many listings have their first ("home")
  place there, in all and per facet value (kind, accepting, specialty, network). A search by place
  alone adds up the cells wholly inside its circle instead of visiting every listing around.
- `search_count`: live-listing counts per term and per topic code (inverse document frequency,
  the term lexicon that typo tolerance walks with pg_trgm and fuzzystrmatch) and the number of
  live listings.
- `search_meta`: the layout version of these tables.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from directory.search.contract import SnapshotFormatError
from directory.search.documents import ListingDoc
from directory.search.postgres.rows import codebook, point_row, rows_and_counts

LAYOUT = 8  # bump when the tables change shape: old ones need a reindex
TABLE, POINTS, COUNTS, META = "search_listing", "search_point", "search_count", "search_meta"
ROLLUP = "search_rollup"
EXTENSIONS = ("cube", "pg_trgm", "fuzzystrmatch")
LOCK_KEY = 0x1F16_5EA2  # pg_advisory_lock key: one index writer at a time, across every node

COLUMNS = ("lid", "n", "digest", "kind", "name_key", "accepting", "telehealth", "multi", "lat", "lon",
           "loc", "pid", "hlat", "hlon", "hpt", "key", "pt", "cmask", "smask", "specialties", "networks",
           "languages", "services", "concepts", "name_tsv", "products_tsv", "place_tsv")


def _listing_ddl(table: str, unlogged: bool = False, key: bool = True) -> str:
    primary_key = ", PRIMARY KEY (lid, n)" if key else ""
    return f"""
        CREATE {"UNLOGGED " if unlogged else ""}TABLE {table} (
            lid bigint NOT NULL,
            n smallint NOT NULL,            -- place number; row 0 stands for the listing
            digest text NOT NULL,
            kind text NOT NULL,
            name_key bytea NOT NULL,        -- the same sort key as the Whoosh backend's
            accepting boolean NOT NULL,
            telehealth boolean NOT NULL,
            multi boolean NOT NULL,         -- the listing has several places
            lat float8 NOT NULL,
            lon float8 NOT NULL,
            loc bigint NOT NULL,            -- the location shown at this place (0: not known)
            pid integer NOT NULL,           -- the search_point at (lat, lon)
            hlat float8 NOT NULL,           -- the listing's home place: the place of its row 0
            hlon float8 NOT NULL,
            hpt cube NOT NULL,
            key float8 NOT NULL,            -- latitude band and longitude (ordering.area_key)
            pt cube NOT NULL,               -- the place on the unit sphere (x, y, z)
            cmask bigint NOT NULL,          -- concepts as bits (Codebook order; see topic_mask)
            smask bigint NOT NULL,          -- specialties as bits
            specialties text[] NOT NULL,
            networks int[] NOT NULL,
            languages text[] NOT NULL,
            services text[] NOT NULL,
            concepts text[] NOT NULL,
            name_tsv tsvector NOT NULL,
            products_tsv tsvector NOT NULL,
            place_tsv tsvector NOT NULL{primary_key}
        ){"" if unlogged else VACUUM_OFTEN}"""


# Index-only scans (the place index) read the table itself for pages changed since the last VACUUM:
# at 1M listings, with 2% of rows rewritten, p95 rose from 20-40 ms to 31-48 ms until a VACUUM
# (1.2 s) restored it. By default autovacuum waits for 20% of rows; here 1% (about a minute later).
VACUUM_OFTEN = " WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.01)"


def _listing_indexes(table: str, suffix: str = "") -> list[str]:
    return [
        # The listings of an area with what a search by place reads, so that it is an index-only
        # scan: the listings around a point are one run of this index per latitude band the circle
        # crosses (ordering.area_ranges), each tested against the radius by its own point. Probing
        # the listings of each place around instead cost one index descent per place: with every
        # listing at its own street point, 20,000-190,000 descents a search at 1M listings. Topics
        # as bits (cmask, smask) are cheap to test on every listing around, where common topics'
        # GIN posting lists are long (400,000 listings at 1M). Names and specialty codes are left
        # out (the page reads names by primary key; specialty facets add up the bits): every entry
        # scanned is read in full, and at 1M a text search near Philadelphia scans 196,000 of them
        # (44 -> 31 ms for the scan alone, measured on an index of these columns but `kind`).
        f"CREATE INDEX {TABLE}_area{suffix} ON {table} (key) INCLUDE "
        f"(pt, cmask, smask, lid, n, loc, lat, lon, multi, accepting, telehealth, kind, networks)",
        # The listings at one place: a search by place alone reads the nearest places' listings.
        f"CREATE INDEX {TABLE}_place{suffix} ON {table} (pid) INCLUDE (lid, loc, lat, lon, name_key)",
        # The other places of listings with several, with their home place: a search by place
        # alone looks here for the listings around whose home place is outside the circle.
        f"CREATE INDEX {TABLE}_away{suffix} ON {table} (key) INCLUDE (pt, lat, lon, hpt, hlat, hlon, lid) WHERE n > 0",
        f"CREATE INDEX {TABLE}_name{suffix} ON {table} (name_key, lid) WHERE n = 0",
        f"CREATE INDEX {TABLE}_text{suffix} ON {table} USING gin (name_tsv, products_tsv, place_tsv) WHERE n = 0",
        # Not partial: with a place, a selective filter (a network, a specialty, a condition) and the
        # place index are combined (BitmapAnd) instead of reading every listing of a metro.
        f"CREATE INDEX {TABLE}_tags{suffix} ON {table} USING gin "
        f"(specialties, networks, concepts, languages, services)",
    ]


def _points_ddl(table: str) -> str:
    # Distinct places, each once: many listings share a place (an address, a ZIP centre), and a
    # GiST index over one entry per listing grew to twice the size of the table (1.5 GB at 1M).
    return f"""
        CREATE TABLE {table} (
            pid integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            lat float8 NOT NULL,
            lon float8 NOT NULL,
            pt cube NOT NULL,               -- the place on the unit sphere (x, y, z)
            UNIQUE (lat, lon)
        )"""


def _points_indexes(table: str, suffix: str = "") -> list[str]:
    return [f"CREATE INDEX {POINTS}_pt{suffix} ON {table} USING gist (pt)"]


def _rollup_ddl(table: str) -> str:
    return f"""
        CREATE TABLE {table} (
            cell integer NOT NULL,          -- a cell (cells.py) holding the home place of the listings counted
            tag text COLLATE "C" NOT NULL,  -- see rollup_tags
            n bigint NOT NULL,
            PRIMARY KEY (cell, tag)
        )"""


def _counts_ddl(table: str) -> str:
    return f"""
        CREATE TABLE {table} (
            facet text NOT NULL,            -- docs | name | products | place | concepts | specialties
            code text COLLATE "C" NOT NULL, -- a term or a topic code ('' for docs)
            n bigint NOT NULL,
            PRIMARY KEY (facet, code)
        )"""


def _counts_indexes(table: str, suffix: str = "") -> list[str]:
    return [f"CREATE INDEX {COUNTS}_trgm{suffix} ON {table} USING gin (code gin_trgm_ops)"]


def layout_version() -> str:
    """The layout number and the topic codes the masks number (another vocabulary: reindex)."""
    book = codebook()
    digest = hashlib.sha256("\n".join((*book.concepts, "", *book.specialties)).encode()).hexdigest()
    return f"{LAYOUT}-{digest[:12]}"


# -- writing -----------------------------------------------------------------------------------------


def copy_rows(conn: Connection, table: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def add_deltas(conn: Connection, table: str, key: tuple[tuple[str, str], tuple[str, str]], delta: Counter) -> None:
    """Add counted deltas to `table` (a two-column key and `n`), dropping rows that reach zero.
    Keys go in order, so two writers never deadlock. `key` names each key column and its SQL type."""
    keys = sorted(k for k, v in delta.items() if v)
    if not keys:
        return
    (a, a_type), (b, b_type) = key
    params = {"a": [k[0] for k in keys], "b": [k[1] for k in keys], "n": [delta[k] for k in keys]}
    conn.execute(text(f"""
        INSERT INTO {table} ({a}, {b}, n)
        SELECT * FROM unnest(CAST(:a AS {a_type}[]), CAST(:b AS {b_type}[]), CAST(:n AS bigint[]))
        ON CONFLICT ({a}, {b}) DO UPDATE SET n = {table}.n + EXCLUDED.n"""), params)
    conn.execute(text(f"""
        DELETE FROM {table} t USING unnest(CAST(:a AS {a_type}[]), CAST(:b AS {b_type}[])) AS k({a}, {b})
        WHERE t.{a} = k.{a} AND t.{b} = k.{b} AND t.n <= 0"""), params)


def add_counts(conn: Connection, delta: Counter) -> None:
    """Add (facet, code) deltas to `search_count`."""
    add_deltas(conn, COUNTS, (("facet", "text"), ("code", "text")), delta)


def add_rollup(conn: Connection, delta: Counter) -> None:
    """Add (cell, tag) deltas to `search_rollup`."""
    add_deltas(conn, ROLLUP, (("cell", "int"), ("tag", "text")), delta)


def point_ids(conn: Connection, places: set[tuple[float, float]]) -> dict[tuple[float, float], int]:
    """The search_point id of each place, adding the places not seen before."""
    if not places:
        return {}
    ordered = sorted(places)
    rows = [point_row(0, lat, lon) for lat, lon in ordered]
    params = {"lat": [r[1] for r in rows], "lon": [r[2] for r in rows], "pt": [r[3] for r in rows]}
    conn.execute(text(f"""
        INSERT INTO {POINTS} (lat, lon, pt)
        SELECT lat, lon, CAST(pt AS cube)
        FROM unnest(CAST(:lat AS float8[]), CAST(:lon AS float8[]), CAST(:pt AS text[])) AS p(lat, lon, pt)
        ON CONFLICT (lat, lon) DO NOTHING"""), params)
    found = conn.execute(text(f"""
        SELECT p.lat, p.lon, p.pid FROM {POINTS} p
        JOIN unnest(CAST(:lat AS float8[]), CAST(:lon AS float8[])) AS w(lat, lon)
          ON p.lat = w.lat AND p.lon = w.lon"""), params).all()
    return {(lat, lon): pid for lat, lon, pid in found}


# -- schema ------------------------------------------------------------------------------------------


def ensure_schema(engine: Engine, rebuilding: bool = False) -> None:
    """Create the extensions and empty index tables when missing; refuse tables of another layout
    (unless a rebuild is about to replace them)."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
        for name in EXTENSIONS:
            try:
                with conn.begin_nested():
                    conn.execute(text(f"CREATE EXTENSION IF NOT EXISTS {name} CASCADE"))
            except Exception as error:  # noqa: BLE001  (re-raised with what to do)
                raise RuntimeError(
                    f"SEARCH_BACKEND=postgres needs the PostgreSQL extension {name} (in the server's "
                    f"contrib package) and a user allowed to create it: {error}"
                ) from error
        exists = conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": META}).scalar_one()
        if exists:
            layout = conn.execute(text(f"SELECT value FROM {META} WHERE key = 'layout'")).scalar()
            if layout is not None and layout != layout_version() and not rebuilding:
                raise SnapshotFormatError(
                    f"the PostgreSQL search tables were built by another version (layout {layout}, "
                    f"this code reads {layout_version()}): run `flask --app wsgi reindex`"
                )
            return
        conn.execute(text(f"CREATE TABLE {META} (key text PRIMARY KEY, value text NOT NULL)"))
        conn.execute(text(f"INSERT INTO {META} VALUES ('layout', :v)"), {"v": layout_version()})
        conn.execute(text(f"DROP TABLE IF EXISTS {TABLE}, {POINTS}, {COUNTS}, {ROLLUP}"))
        for statement in (_listing_ddl(TABLE), *_listing_indexes(TABLE), _points_ddl(POINTS),
                          *_points_indexes(POINTS), _counts_ddl(COUNTS), *_counts_indexes(COUNTS),
                          _rollup_ddl(ROLLUP)):
            conn.execute(text(statement))


def rebuild_tables(engine: Engine, batches: Iterable[list[ListingDoc]]) -> None:
    """Build fresh tables from these documents beside the live ones, then swap them in.

    Searches keep reading the old tables until the swap commits.
    """
    ensure_schema(engine, rebuilding=True)
    loading = f"{TABLE}_load"
    built = {TABLE: f"{TABLE}_build", POINTS: f"{POINTS}_build", COUNTS: f"{COUNTS}_build",
             ROLLUP: f"{ROLLUP}_build"}
    counts: Counter = Counter()
    rollup: Counter = Counter()
    points: dict[tuple[float, float], int] = {}
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {loading}, {', '.join(built.values())}"))
        conn.execute(text(_listing_ddl(loading, unlogged=True, key=False)))
        conn.execute(text(_listing_ddl(built[TABLE])))
        conn.execute(text(_points_ddl(built[POINTS])))
        conn.execute(text(_counts_ddl(built[COUNTS])))
        conn.execute(text(_rollup_ddl(built[ROLLUP])))

    def point_id(lat: float, lon: float) -> int:
        return points.setdefault((lat, lon), len(points) + 1)

    for docs in batches:
        rows = rows_and_counts(docs, counts, rollup, point_id)
        with engine.begin() as conn:
            copy_rows(conn, loading, COLUMNS, rows)
    with engine.begin() as conn:
        # Rows of one area next to each other on disk (in area key order, as the area index): a
        # radius search then reads a few runs of pages instead of a page per listing.
        conn.execute(text(f"INSERT INTO {built[TABLE]} SELECT * FROM {loading} ORDER BY key, lid, n"))
        conn.execute(text(f"DROP TABLE {loading}"))
        copy_rows(conn, built[POINTS], ("pid", "lat", "lon", "pt"),
                   (point_row(pid, lat, lon) for (lat, lon), pid in points.items()))
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{built[POINTS]}', 'pid'), "
                          f"(SELECT coalesce(max(pid), 0) + 1 FROM {built[POINTS]}), false)"))
        copy_rows(conn, built[COUNTS], ("facet", "code", "n"),
                   ((facet, code, n) for (facet, code), n in sorted(counts.items())))
        copy_rows(conn, built[ROLLUP], ("cell", "tag", "n"),
                   ((cell, tag, n) for (cell, tag), n in sorted(rollup.items()) if n))
        for statement in (*_listing_indexes(built[TABLE], "_build"), *_points_indexes(built[POINTS], "_build"),
                          *_counts_indexes(built[COUNTS], "_build")):
            conn.execute(text(statement))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in built.values():
            # VACUUM too: it marks the pages all-visible, which index-only scans need.
            conn.execute(text(f"VACUUM ANALYZE {table}"))
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
        conn.execute(text(f"DROP TABLE IF EXISTS {', '.join(built)}"))
        for live, table in built.items():
            conn.execute(text(f"ALTER TABLE {table} RENAME TO {live}"))
            # Index names are per schema: give the new indexes the live names for the next build.
            for (index,) in conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = :t"),
                                         {"t": live}):
                if "_build" in index:
                    conn.execute(text(f"ALTER INDEX {index} RENAME TO {index.replace('_build', '')}"))
        conn.execute(text(f"UPDATE {META} SET value = :v WHERE key = 'layout'"), {"v": layout_version()})


def index_size_bytes(engine: Engine) -> int:
    """Bytes on disk of the index tables with their indexes."""
    with engine.connect() as conn:
        return int(conn.execute(text(
            f"SELECT sum(pg_total_relation_size(c)) FROM unnest(ARRAY['{TABLE}', '{POINTS}', '{COUNTS}', '{ROLLUP}', "
            f"'{META}']) c"
        )).scalar_one() or 0)
