"""The PostgreSQL backend (SEARCH_BACKEND=postgres): the index is tables beside the listings.

Nothing lives on the web server's disk, so any number of processes and machines share one index,
and a write is visible to every one of them as soon as it commits.

- `search_listing`: one row per (listing, place) with everything search filters, counts and
  orders by. Text fields are `tsvector`s of the terms our own analyzer makes (the same stems and
  stop words as the Whoosh backend); each place is also a point on the unit sphere (a `cube`),
  found through a GiST index and ordered by chord length, as the Whoosh backend does; places within
  rounding of the radius are decided by geopy's great-circle formula.
- `search_count`: live-listing counts per term and per topic code (inverse document frequency,
  the term lexicon that typo tolerance walks with pg_trgm and fuzzystrmatch) and the number of
  live listings.
- `search_meta`: the layout version of these tables.

Why cube (the base of earthdistance) and not PostGIS: cube ships in PostgreSQL's contrib (no extra
system package), its GiST index finds the
places around a point quickly, and one C call per row (`cube_distance`) gives the chord. earthdistance's
`ll_to_earth` would add trigonometry per row and a sphere of another radius than geopy's; PostGIS
(installable here from Debian's postgresql-15-postgis-3) would add a large package per server for
a distance we must compute with geopy's formula anyway to agree with the Whoosh backend.

User words are matched the way the Whoosh backend matches them (`text.plan_words`): synonyms and
topics by query expansion through the vocabulary, typos within 1-2 edits sharing the first letter.
Scores are the same float arithmetic in the same order, so both backends rank alike.
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from directory.geo import EARTH_RADIUS_MI, great_circle_mi
from directory.search import Searcher
from directory.search.documents import ListingDoc, iter_all_docs
from directory.search.engine import Hit, SearchResult
from directory.search.query import SearchQuery
from directory.search.table import Codebook, SnapshotFormatError, name_key, unit_vectors
from directory.search.text import (
    FIELD_WEIGHTS,
    analyzer,
    plan_words,
    query_words,
    term_weight,
    topic_weight,
)
from directory.search.topics import TopicIndex, TopicMatch

LAYOUT = 4  # bump when the tables change shape: old ones need a reindex
TABLE, POINTS, COUNTS, META = "search_listing", "search_point", "search_count", "search_meta"
TEXT_FIELDS = tuple(FIELD_WEIGHTS)  # name, products, place
TOPIC_FACETS = ("concepts", "specialties")
EXTENSIONS = ("cube", "pg_trgm", "fuzzystrmatch")
LOCK_KEY = 0x1F16_5EA2  # pg_advisory_lock key: one index writer at a time, across every node

PointId = Callable[[float, float], int]

COLUMNS = ("lid", "n", "digest", "kind", "name_key", "accepting", "telehealth", "multi", "lat", "lon",
           "pid", "specialties", "networks", "languages", "services", "concepts",
           "name_tsv", "products_tsv", "place_tsv")


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
            pid integer NOT NULL,           -- the search_point at (lat, lon)
            specialties text[] NOT NULL,
            networks int[] NOT NULL,
            languages text[] NOT NULL,
            services text[] NOT NULL,
            concepts text[] NOT NULL,
            name_tsv tsvector NOT NULL,
            products_tsv tsvector NOT NULL,
            place_tsv tsvector NOT NULL{primary_key}
        )"""


def _listing_indexes(table: str, suffix: str = "") -> list[str]:
    return [
        f"CREATE INDEX {TABLE}_pid{suffix} ON {table} (pid)",
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


# -- documents to rows -------------------------------------------------------------------------------


_ANALYZER = analyzer()


def terms_of(value: str) -> list[str]:
    """The index terms of a text field: exactly what the Whoosh backend indexes."""
    return list(dict.fromkeys(token.text for token in _ANALYZER(value, mode="index")))


def doc_terms(doc: ListingDoc) -> dict[str, list[str]]:
    texts = {"name": doc.name_text, "products": doc.products_text, "place": doc.place_text}
    return {field: terms_of(texts[field]) for field in TEXT_FIELDS}


def tsvector_literal(terms: Iterable[str]) -> str:
    """A tsvector of these exact lexemes (no further normalization by PostgreSQL)."""
    quoted = ("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in terms)
    return " ".join(quoted)


def doc_rows(doc: ListingDoc, terms: dict[str, list[str]], point_id: PointId) -> list[tuple]:
    tsv = [tsvector_literal(terms[f]) for f in TEXT_FIELDS]
    common = (doc.digest, doc.kind, name_key(doc.name), doc.accepting, doc.telehealth, len(doc.places) > 1)
    tags = (list(dict.fromkeys(doc.specialties)), sorted(set(doc.networks)), sorted(set(doc.languages)),
            sorted(set(doc.services)), list(dict.fromkeys(doc.concepts)))
    return [(doc.lid, n, *common, lat, lon, point_id(lat, lon), *tags, *tsv)
            for n, (lat, lon) in enumerate(doc.places)]


def point_row(pid: int, lat: float, lon: float) -> tuple:
    return (pid, lat, lon, cube_literal(unit_vectors(np.array([lat]), np.array([lon]))[0]))


def cube_literal(point) -> str:
    """A cube value for a point, written so PostgreSQL reads back the very same doubles."""
    return "(" + ", ".join(repr(float(v)) for v in point) + ")"


def add_doc_counts(counts: Counter, doc: ListingDoc, terms: dict[str, list[str]]) -> None:
    """Add the counts one live listing contributes to `search_count`."""
    counts[("docs", "")] += 1
    for field in TEXT_FIELDS:
        counts.update((field, term) for term in terms[field])
    counts.update(("concepts", c) for c in set(doc.concepts))
    counts.update(("specialties", c) for c in set(doc.specialties))


def rows_and_counts(docs: Iterable[ListingDoc], counts: Counter, point_id: PointId) -> list[tuple]:
    """The rows of these documents; their counts are added to `counts`."""
    rows = []
    for doc in docs:
        terms = doc_terms(doc)
        rows.extend(doc_rows(doc, terms, point_id))
        add_doc_counts(counts, doc, terms)
    return rows


def _copy_rows(conn: Connection, table: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _add_counts(conn: Connection, delta: Counter) -> None:
    """Add these deltas to `search_count` (keys in order, so two writers never deadlock)."""
    keys = sorted(k for k, v in delta.items() if v)
    if not keys:
        return
    params = {"f": [k[0] for k in keys], "c": [k[1] for k in keys], "n": [delta[k] for k in keys]}
    conn.execute(text(f"""
        INSERT INTO {COUNTS} (facet, code, n)
        SELECT * FROM unnest(CAST(:f AS text[]), CAST(:c AS text[]), CAST(:n AS bigint[]))
        ON CONFLICT (facet, code) DO UPDATE SET n = {COUNTS}.n + EXCLUDED.n"""), params)
    conn.execute(text(f"""
        DELETE FROM {COUNTS} c USING unnest(CAST(:f AS text[]), CAST(:c AS text[])) AS k(facet, code)
        WHERE c.facet = k.facet AND c.code = k.code AND c.n <= 0"""), params)


def _point_ids(conn: Connection, places: set[tuple[float, float]]) -> dict[tuple[float, float], int]:
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
            if layout is not None and int(layout) != LAYOUT and not rebuilding:
                raise SnapshotFormatError(
                    f"the PostgreSQL search tables were built by another version (layout {layout}, "
                    f"this code reads {LAYOUT}): run `flask --app wsgi reindex`"
                )
            return
        conn.execute(text(f"CREATE TABLE {META} (key text PRIMARY KEY, value text NOT NULL)"))
        conn.execute(text(f"INSERT INTO {META} VALUES ('layout', :v)"), {"v": str(LAYOUT)})
        conn.execute(text(f"DROP TABLE IF EXISTS {TABLE}, {POINTS}, {COUNTS}"))
        for statement in (_listing_ddl(TABLE), *_listing_indexes(TABLE), _points_ddl(POINTS),
                          *_points_indexes(POINTS), _counts_ddl(COUNTS), *_counts_indexes(COUNTS)):
            conn.execute(text(statement))


def rebuild(engine: Engine, progress: Callable[[int], None] | None = None, batch_size: int = 2000) -> int:
    """Build fresh tables from the database beside the live ones, then swap them in.

    Searches keep reading the old tables until the swap commits. Changes committed after the build
    started are applied again afterwards (as the Whoosh reindex does).
    """
    from directory.search.sync import latest_change, settle_changes

    ensure_schema(engine, rebuilding=True)
    loading = f"{TABLE}_load"
    built = {TABLE: f"{TABLE}_build", POINTS: f"{POINTS}_build", COUNTS: f"{COUNTS}_build"}
    counts: Counter = Counter()
    points: dict[tuple[float, float], int] = {}
    count = 0
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {loading}, {', '.join(built.values())}"))
        conn.execute(text(_listing_ddl(loading, unlogged=True, key=False)))
        conn.execute(text(_listing_ddl(built[TABLE])))
        conn.execute(text(_points_ddl(built[POINTS])))
        conn.execute(text(_counts_ddl(built[COUNTS])))

    def point_id(lat: float, lon: float) -> int:
        return points.setdefault((lat, lon), len(points) + 1)

    with Session(engine) as session:
        watermark = latest_change(session)
        for docs in iter_all_docs(session, batch_size):
            rows = rows_and_counts(docs, counts, point_id)
            with engine.begin() as conn:
                _copy_rows(conn, loading, COLUMNS, rows)
            count += len(docs)
            if progress:
                progress(len(docs))
    with engine.begin() as conn:
        # Rows of one area next to each other on disk (half-degree latitude bands, by longitude):
        # a radius search then reads a few runs of pages instead of a page per listing.
        conn.execute(text(f"INSERT INTO {built[TABLE]} SELECT * FROM {loading} "
                          f"ORDER BY floor(lat * 2), lon, lid, n"))
        conn.execute(text(f"DROP TABLE {loading}"))
        _copy_rows(conn, built[POINTS], ("pid", "lat", "lon", "pt"),
                   (point_row(pid, lat, lon) for (lat, lon), pid in points.items()))
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{built[POINTS]}', 'pid'), "
                          f"(SELECT coalesce(max(pid), 0) + 1 FROM {built[POINTS]}), false)"))
        _copy_rows(conn, built[COUNTS], ("facet", "code", "n"),
                   ((facet, code, n) for (facet, code), n in sorted(counts.items())))
        for statement in (*_listing_indexes(built[TABLE], "_build"), *_points_indexes(built[POINTS], "_build"),
                          *_counts_indexes(built[COUNTS], "_build")):
            conn.execute(text(statement))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in built.values():
            conn.execute(text(f"ANALYZE {table}"))
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
        conn.execute(text(f"UPDATE {META} SET value = :v WHERE key = 'layout'"), {"v": str(LAYOUT)})
    settle_changes(engine, watermark)
    return count


def index_size_bytes(engine: Engine) -> int:
    """Bytes on disk of the index tables with their indexes."""
    with engine.connect() as conn:
        return int(conn.execute(text(
            f"SELECT sum(pg_total_relation_size(c)) FROM unnest(ARRAY['{TABLE}', '{POINTS}', '{COUNTS}', "
            f"'{META}']) c"
        )).scalar_one() or 0)


# -- searching ---------------------------------------------------------------------------------------


def trigram_threshold(word: str, maxdist: int) -> float | None:
    """A pg_trgm similarity every term within `maxdist` edits of `word` reaches, or None.

    pg_trgm pads a word to '  word ' and compares sets of trigrams. An edit changes at most three
    of them, so a term within k edits shares at least |T(word)| - 3k trigrams and has at most
    len(word) + k + 1; the lowest similarity that allows is a sound filter for the index. Words
    with letters pg_trgm may not count as word characters (outside ASCII) get no filter.
    """
    if not word.isascii() or not word.isalnum():
        return None
    padded = f"  {word} "
    grams = {padded[i : i + 3] for i in range(len(padded) - 2)}
    shared = len(grams) - 3 * maxdist
    if shared <= 0:
        return None
    most = len(word) + maxdist + 1
    return shared / (len(grams) + most - shared) - 1e-3  # pg_trgm computes in float4


class PostgresSearcher(Searcher):
    name = "postgres"

    def __init__(self, engine: Engine):
        self.engine = engine
        self.codebook = Codebook.current()
        self.topics = TopicIndex(self.codebook.concepts, self.codebook.specialties, analyzer())
        ensure_schema(engine)

    # -- text --------------------------------------------------------------------------------------

    def _words(self, conn: Connection, q: str) -> list[tuple[list[tuple[str, str, float]],
                                                          list[tuple[str, list[str], float]]]] | None:
        """Per word: (field, term, weight) and (topic facet, codes, weight) it can match."""
        words = query_words(q)
        if not words:
            return None
        rows = conn.execute(text(f"""
            SELECT facet, code, n FROM {COUNTS}
            WHERE (facet = ANY(CAST(:fields AS text[])) AND code = ANY(CAST(:words AS text[])))
               OR facet = ANY(CAST(:topics AS text[])) OR facet = 'docs'"""),
            {"fields": list(TEXT_FIELDS), "words": words, "topics": list(TOPIC_FACETS)}).all()
        df = {(facet, code): n for facet, code, n in rows}
        total = df.get(("docs", ""), 0)
        near_cache: dict[tuple[str, int], dict[str, set[str]]] = {}

        def near(field: str, word: str, maxdist: int) -> set[str]:
            key = (word, maxdist)
            if key not in near_cache:
                near_cache[key] = self._near(conn, word, maxdist, df)
            return set(near_cache[key].get(field, ()))

        groups = plan_words(q, self.topics, lambda field, word: (field, word) in df, near)
        resolved = []
        for group in groups:
            terms = [(field, term, term_weight(weight, total, df[(field, term)]))
                     for field, term, weight in group.terms if df.get((field, term))]
            topics = []
            for topic in group.topics:
                codes = self._topic_codes(topic)
                held = sum(df.get((topic.facet, code), 0) for code in codes)
                topics.append((topic.facet, codes, topic_weight(topic, total, held)))
            resolved.append((terms, topics))
        return resolved

    def _topic_codes(self, topic: TopicMatch) -> list[str]:
        names = self.codebook.concepts if topic.facet == "concepts" else self.codebook.specialties
        return [names[i] for i in topic.codes]

    def _near(self, conn: Connection, word: str, maxdist: int, df: dict) -> dict[str, set[str]]:
        """Index terms within `maxdist` edits of `word` with its first letter, by field."""
        threshold = trigram_threshold(word, maxdist)
        trigram = ""
        if threshold is not None:
            conn.execute(text("SELECT set_config('pg_trgm.similarity_threshold', :t, true)"),
                         {"t": str(max(threshold, 0.0))})
            trigram = "AND code % :word"
        rows = conn.execute(text(f"""
            SELECT facet, code, n FROM {COUNTS}
            WHERE facet = ANY(CAST(:fields AS text[])) {trigram}
              AND left(code, 1) = :first
              AND CASE WHEN length(code) BETWEEN :shortest AND :longest
                       THEN levenshtein_less_equal(substr(code, 2), :rest, :k) <= :k ELSE false END"""),
            {"fields": list(TEXT_FIELDS), "word": word, "first": word[0], "rest": word[1:], "k": maxdist,
             "shortest": max(1, len(word) - maxdist), "longest": len(word) + maxdist}).all()
        found: dict[str, set[str]] = {}
        for facet, code, n in rows:
            found.setdefault(facet, set()).add(code)
            df[(facet, code)] = n
        return found

    # -- Searcher ----------------------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchResult:
        with self.engine.begin() as conn:
            words = self._words(conn, query.q) if query.q else None
            sql, params = build_search(query, words)
            row = conn.execute(text(sql), params).one()
        total, page, specialty, network, counts = row
        page = page or []
        miles = [None] * len(page)
        if query.place is not None and page:
            miles = great_circle_mi(query.place.lat, query.place.lon, np.array([p[1] for p in page]),
                                    np.array([p[2] for p in page])).tolist()
        hits = [Hit(int(lid), mi, float(score)) for (lid, _lat, _lon, score), mi in zip(page, miles, strict=True)]
        facets = {}
        if query.facets:
            organizations, accepting = counts
            kinds = {"organization": organizations, "practitioner": total - organizations}
            facets = {
                "specialty": _ordered(specialty),
                "network": _ordered(network),
                "kind": _ordered({k: n for k, n in kinds.items() if n}),
                "accepting": _ordered({"true": accepting, "false": total - accepting}),
            }
        return SearchResult(int(total), hits, facets)

    def update(self, docs: dict[int, ListingDoc | None]) -> None:
        if not docs:
            return
        ids = sorted(docs)
        with self.engine.begin() as conn:
            delta: Counter = Counter()
            old = conn.execute(text(f"""
                SELECT tsvector_to_array(name_tsv), tsvector_to_array(products_tsv),
                       tsvector_to_array(place_tsv), concepts, specialties
                FROM {TABLE} WHERE n = 0 AND lid = ANY(CAST(:ids AS bigint[])) FOR UPDATE"""),
                {"ids": ids}).all()
            for name_terms, product_terms, place_terms, concepts, specialties in old:
                delta[("docs", "")] -= 1
                for field, terms in zip(TEXT_FIELDS, (name_terms, product_terms, place_terms), strict=True):
                    delta.subtract((field, t) for t in terms)
                delta.subtract(("concepts", c) for c in set(concepts))
                delta.subtract(("specialties", c) for c in set(specialties))
            conn.execute(text(f"DELETE FROM {TABLE} WHERE lid = ANY(CAST(:ids AS bigint[]))"), {"ids": ids})
            live = [doc for doc in docs.values() if doc is not None]
            pids = _point_ids(conn, {place for doc in live for place in doc.places})
            _copy_rows(conn, TABLE, COLUMNS, rows_and_counts(live, delta, lambda lat, lon: pids[(lat, lon)]))
            _add_counts(conn, delta)

    def clear(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
            conn.execute(text(f"TRUNCATE {TABLE}, {POINTS}, {COUNTS}"))

    @contextlib.contextmanager
    def writing(self):
        """A session-level advisory lock: one writer at a time across every process and node."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                conn.commit()

    def indexed_digests(self) -> dict[int, str]:
        with self.engine.connect() as conn:
            return dict(conn.execute(text(f"SELECT lid, digest FROM {TABLE} WHERE n = 0")).all())

    def close(self) -> None:
        pass


def _ordered(counts: dict | None) -> dict[str, int]:
    """Facet counts, most first then by key (as the Whoosh backend orders them)."""
    items = ((str(k), int(v)) for k, v in (counts or {}).items())
    return dict(sorted(items, key=lambda kv: (-kv[1], kv[0])))


def build_search(query: SearchQuery, words) -> tuple[str, dict]:
    """One statement: the matching rows once per listing (at its nearest place), their total, one
    page in order, and the facet counts."""
    params: dict = {}
    where: list[str] = []

    def param(value) -> str:
        name = f"p{len(params)}"
        params[name] = value
        return f":{name}"

    place = query.place
    near = ""
    if place is not None:
        # As the Whoosh backend: the chord between unit vectors orders places as the great-circle
        # distance does; places within rounding of the edge are decided by geopy's formula itself.
        # The radius is tested once per distinct place (search_point), not once per listing.
        centre = param(cube_literal(unit_vectors(np.array([place.lat]), np.array([place.lon]))[0]))
        limit = (2 * math.sin(place.radius_mi / EARTH_RADIUS_MI / 2)) ** 2
        chord = f"cube_distance(p.pt, CAST({centre} AS cube))"
        lat1, lng1 = math.radians(place.lat), math.radians(place.lon)
        s1, c1, l1 = param(math.sin(lat1)), param(math.cos(lat1)), param(lng1)
        great_circle = (
            f"{param(EARTH_RADIUS_MI)} * atan2(sqrt("
            f"power(cos(radians(p.lat)) * sin(radians(p.lon) - {l1}), 2) + "
            f"power({c1} * sin(radians(p.lat)) - {s1} * cos(radians(p.lat)) * cos(radians(p.lon) - {l1}), 2)), "
            f"{s1} * sin(radians(p.lat)) + {c1} * cos(radians(p.lat)) * cos(radians(p.lon) - {l1}))"
        )
        near = f"""near AS MATERIALIZED (
            SELECT p.pid, {chord} AS dist FROM {POINTS} p
            WHERE p.pt <@ cube_enlarge(CAST({centre} AS cube), {param(math.sqrt(limit) * (1 + 1e-6))}, 3)
              AND ({chord} <= {param(math.sqrt(limit * (1 - 1e-9)))}
                   OR ({chord} <= {param(math.sqrt(limit * (1 + 1e-9)))}
                       AND {great_circle} <= {param(place.radius_mi)}))
        ), """
        distance = "near.dist"
        source = f"near JOIN {TABLE} s ON s.pid = near.pid"
    else:
        distance = "NULL::float8"
        source = f"{TABLE} s"
        where.append("s.n = 0")

    def indexed(condition: str) -> str:
        """With a place, the places drive the search (a few hundred to a few thousand, each with its
        listings together on disk), so other conditions are kept from the planner's index choice:
        it cannot see how many places match and would build a tag bitmap once per place."""
        return condition if place is None else f"coalesce({condition}, false)"


    if query.kind is not None:
        where.append(f"s.kind = {param(query.kind)}")
    if query.accepting:
        where.append("s.accepting")
    if query.telehealth:
        where.append("s.telehealth")
    for column, values, sql_type in (("specialties", query.specialties, "text[]"),
                                     ("networks", query.networks, "int[]"),
                                     ("languages", query.languages, "text[]"),
                                     ("services", query.services, "text[]")):
        if values:
            where.append(indexed(f"s.{column} && CAST({param(list(values))} AS {sql_type})"))

    score = "0::float8"
    if query.q:
        if words is None:
            where.append("false")  # text with no searchable word matches nothing
        for terms, topics in words or []:
            cases = []
            for field, term, weight in terms:
                cases.append((f"s.{field}_tsv @@ CAST({param(tsvector_literal([term]))} AS tsquery)", weight))
            for facet, codes, weight in topics:
                cases.append((f"s.{facet} && CAST({param(codes)} AS text[])", weight))
            if not cases:
                where.append("false")
                continue
            where.append(indexed("(" + " OR ".join(cond for cond, _ in cases) + ")"))
            best = ", ".join(f"CASE WHEN {cond} THEN CAST({param(w)} AS float8) ELSE 0::float8 END"
                             for cond, w in cases)
            score = f"({score} + GREATEST({best}))"

    order = {"distance": "dist, name_key, lid", "relevance": "score DESC, name_key, lid",
             "name": "name_key, lid"}[query.sort]
    facet_sql = ("""
        (SELECT json_object_agg(code, n) FROM (SELECT unnest(specialties) AS code, count(*) AS n
                                               FROM best GROUP BY 1) f),
        (SELECT json_object_agg(code, n) FROM (SELECT unnest(networks) AS code, count(*) AS n
                                               FROM best GROUP BY 1) f),
        (SELECT ARRAY[count(*) FILTER (WHERE kind = 'organization'), count(*) FILTER (WHERE accepting)]
         FROM best)""" if query.facets else "NULL, NULL, NULL")
    sql = f"""
        WITH {near}hit AS (
            SELECT s.lid, s.multi, s.name_key, s.kind, s.accepting, s.specialties, s.networks,
                   s.lat, s.lon, {distance} AS dist, {score} AS score
            FROM {source}
            WHERE {" AND ".join(where) or "true"}
        ), best AS (
            SELECT * FROM hit WHERE NOT multi
            UNION ALL
            (SELECT DISTINCT ON (lid) * FROM hit WHERE multi ORDER BY lid, dist)
        )
        SELECT (SELECT count(*) FROM best),
               (SELECT json_agg(json_build_array(lid, lat, lon, score) ORDER BY {order})
                FROM (SELECT lid, name_key, lat, lon, dist, score FROM best ORDER BY {order}
                      LIMIT {param(query.per_page)} OFFSET {param(query.offset)}) page),
               {facet_sql}
    """
    return sql, params
