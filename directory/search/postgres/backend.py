"""The PostgreSQL backend (SEARCH_BACKEND=postgres): the index is tables beside the listings.

Nothing lives on the web server's disk, so any number of processes and machines share one index,
and a write is visible to every one of them as soon as it commits. The tables are described in
`tables`. Places are points on the unit sphere: found through a GiST index, ordered by chord
length as the Whoosh backend does, and decided at the edge of the radius by geopy's formula.

Why cube (the base of earthdistance) and not PostGIS: cube ships in PostgreSQL's contrib (no extra
system package), its GiST index finds the places around a point quickly, and one C call per place
(`cube_distance`) gives the chord. earthdistance's `ll_to_earth` would add trigonometry per row and
a sphere of another radius than geopy's; PostGIS (installable here from Debian's
postgresql-15-postgis-3) would add a large package per server for a distance we must compute with
geopy's formula anyway to agree with the Whoosh backend.

User words are matched the way the Whoosh backend matches them (`search.text.plan_words`): synonyms and
topics by query expansion through the vocabulary, typos within 1-2 edits sharing the first letter.
Scores are the same float arithmetic in the same order, so both backends rank alike.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from directory.search.codebook import Codebook
from directory.search.contract import IndexUnusable, Searcher, SearchResult
from directory.search.documents import ListingDoc
from directory.search.postgres.cells import CELL_SQL, cover, home_cells
from directory.search.postgres.query import build_search, edge_counts_statement, nearest_points, result, within
from directory.search.postgres.rows import (
    MASK_BITS,
    TEXT_FIELDS,
    TOPIC_FACETS,
    rollup_tags,
    rows_and_counts,
    specialty_counts,
)
from directory.search.postgres.tables import (
    COLUMNS,
    COUNTS,
    LOCK_KEY,
    POINTS,
    ROLLUP,
    TABLE,
    add_counts,
    add_rollup,
    copy_rows,
    ensure_schema,
    point_ids,
    rebuild_tables,
)
from directory.search.query import SearchQuery, by_place_alone
from directory.search.text import analyzer, plan_words, query_words, term_weight, topic_weight
from directory.search.topics import TopicIndex, TopicMatch

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
    # A search by place alone sorted by name walks the name index when at least this many listings
    # are around (at 1M listings and 20,000 around, a page of 20 reads about 1,000 names).
    name_walk_from = 20_000

    def __init__(self, engine: Engine, rebuilding: bool = False):
        self.engine = engine
        self.codebook = Codebook.current()
        if len(self.codebook.specialties) > MASK_BITS:  # facets are counted from the bits
            raise RuntimeError(f"the PostgreSQL backend counts at most {MASK_BITS} specialty codes "
                               f"(the vocabulary has {len(self.codebook.specialties)})")
        self.topics = TopicIndex(self.codebook.concepts, self.codebook.specialties, analyzer())
        ensure_schema(engine, rebuilding=rebuilding)
        if not rebuilding:
            with engine.connect() as conn:
                missing = [table for table in (TABLE, POINTS, COUNTS, ROLLUP) if not conn.execute(
                    text("SELECT to_regclass(:t) IS NOT NULL"), {"t": table}).scalar_one()]
            if missing:
                raise IndexUnusable(f"the PostgreSQL search tables are incomplete ({', '.join(missing)} missing)")

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
            if query.place is not None and by_place_alone(query):
                return self._by_place(conn, query)
            words = self._words(conn, query.q) if query.q else None
            sql, params = build_search(query, words, query.place)
            row = conn.execute(text(sql), params).one()
        total, page, specialty_bits, network, counts = row
        _listings, organizations, accepting = counts or (0, 0, 0)
        return result(query, int(total), page or [], specialty_counts(specialty_bits), network or {},
                      organizations, accepting)

    def _by_place(self, conn: Connection, query: SearchQuery) -> SearchResult:
        """A search by place alone: totals and facets add up `search_rollup` over the cells wholly
        inside the circle, plus the listings at home in the cells its edge cuts (within the
        radius) and the few listings at home outside with another place inside; the page reads
        the nearest places' listings."""
        place = query.place
        cells = cover(place.lat, place.lon, place.radius_mi)
        tags: Counter = Counter(dict(conn.execute(text(f"""
            SELECT tag, sum(n) FROM {ROLLUP} WHERE cell = ANY(CAST(:cells AS int[])) GROUP BY tag"""),
            {"cells": cells.inside.tolist()}).all()))
        sql, params = edge_counts_statement(place, cells)
        edge_specialty, edge_network, (listings, organizations, accepting) = conn.execute(text(sql), params).one()
        tags.update({"*": listings, "o": organizations, "a": accepting})
        tags.update({f"s:{code}": n for code, n in specialty_counts(edge_specialty).items()})
        tags.update({f"n:{code}": n for code, n in (edge_network or {}).items()})
        specialty = {tag[2:]: n for tag, n in tags.items() if tag.startswith("s:") and n}
        network = {tag[2:]: n for tag, n in tags.items() if tag.startswith("n:") and n}
        page = None
        if query.sort == "distance":
            page = self._page_by_distance(conn, query)
        elif tags["*"] >= self.name_walk_from:
            page = self._page_by_name(conn, query)  # relevance without words: by name too
        if page is None:  # few listings around: reading them all is quick
            sql, params = build_search(replace(query, facets=False), None, place)
            page = conn.execute(text(sql), params).one()[1] or []
        return result(query, int(tags["*"]), page, specialty, network, int(tags["o"]), int(tags["a"]))

    def _page_by_name(self, conn: Connection, query: SearchQuery) -> list:
        """One page of the listings around in name order: walks every listing in name order (the
        name index) and keeps those with a place in the radius, each at its nearest such place.
        Used when many listings are around, so that a page needs a short walk."""
        wanted = query.offset + query.per_page
        dist, inside, params = within(query.place, "s")
        page: list[tuple] = []
        after: tuple[bytes, int] | None = None
        batch = max(256, 4 * wanted)
        while len(page) < wanted:
            rows = conn.execute(text(f"""
                SELECT lid, name_key, multi, lat, lon, loc, {dist}, {inside} FROM {TABLE} s
                WHERE n = 0 {"AND (name_key, lid) > (CAST(:key AS bytea), :lid)" if after else ""}
                ORDER BY name_key, lid LIMIT :batch"""),
                {**params, "key": after[0] if after else None, "lid": after[1] if after else None,
                 "batch": batch}).all()
            multi = [row[0] for row in rows if row[2]]
            others: dict[int, list[tuple]] = {}
            if multi:
                for lid, lat, lon, loc, d, ok in conn.execute(text(f"""
                        SELECT lid, lat, lon, loc, {dist}, {inside} FROM {TABLE} s
                        WHERE lid = ANY(CAST(:lids AS bigint[])) AND n > 0"""), {**params, "lids": multi}):
                    others.setdefault(lid, []).append((lat, lon, loc, d, ok))
            for lid, _key, _multi, lat, lon, loc, chord, inside_ in rows:
                candidates = [(lat, lon, loc, chord, inside_), *others.get(lid, ())]
                places = [(c, lc, la, lo) for la, lo, lc, c, ok in candidates if ok]
                if places:
                    _d, lc, la, lo = min(places)  # nearest, then the lowest location id
                    page.append((lid, la, lo, 0.0, lc))
            if len(rows) < batch:
                break
            after = (bytes(rows[-1][1]), rows[-1][0])
        return page[query.offset : wanted]

    def _page_by_distance(self, conn: Connection, query: SearchQuery) -> list:
        """One page of the listings around, nearest first: the listings of the nearest places
        (the GiST index's nearest-neighbour order), a few places at first and four times as many
        each round, until they hold a page. Each listing counts at its nearest place (a listing at
        two places as near: the lowest location id); the places at the farthest distance read are
        left for the next round unless they are all the places around, so ties are ordered as the
        row search orders them. The database keeps each listing once and sorts, so only the page
        comes back."""
        wanted = query.offset + query.per_page
        k = 8  # at ZIP centres a place holds a page; at street points a listing or two
        while True:
            points, complete = nearest_points(conn, query.place, k)
            if not complete:
                last = points[-1][1] if points else None
                points = [(pid, d) for pid, d in points if d != last]
            if points:
                found, page = conn.execute(text(f"""
                    WITH near AS (SELECT * FROM unnest(CAST(:pids AS int[]), CAST(:dists AS float8[]))
                                  AS near(pid, dist)),
                    once AS (SELECT DISTINCT ON (s.lid) s.lid, near.dist, s.name_key, s.lat, s.lon, s.loc
                             FROM near JOIN {TABLE} s ON s.pid = near.pid
                             WHERE s.pid = ANY(CAST(:pids AS int[]))
                             ORDER BY s.lid, near.dist, s.loc)
                    SELECT (SELECT count(*) FROM once),
                           (SELECT json_agg(json_build_array(lid, lat, lon, 0.0, loc) ORDER BY dist, name_key, lid)
                            FROM (SELECT * FROM once ORDER BY dist, name_key, lid LIMIT :wanted) page)"""),
                    {"pids": [p for p, _ in points], "dists": [d for _, d in points], "wanted": wanted}).one()
                if found >= wanted or complete:
                    return (page or [])[query.offset : wanted]
            elif complete:
                return []
            k *= 4

    def update(self, docs: dict[int, ListingDoc | None]) -> None:
        if not docs:
            return
        ids = sorted(docs)
        with self.engine.begin() as conn:
            delta: Counter = Counter()
            rollup: Counter = Counter()
            old = conn.execute(text(f"""
                SELECT tsvector_to_array(name_tsv), tsvector_to_array(products_tsv),
                       tsvector_to_array(place_tsv), concepts, specialties, lat, lon, kind, accepting, networks
                FROM {TABLE} WHERE n = 0 AND lid = ANY(CAST(:ids AS bigint[])) FOR UPDATE"""),
                {"ids": ids}).all()
            for (name_terms, product_terms, place_terms, concepts, specialties, lat, lon,
                 kind, accepting, networks) in old:
                rollup.subtract((cell, tag) for cell in home_cells(lat, lon)
                                for tag in rollup_tags(kind, accepting, specialties, networks))
                delta[("docs", "")] -= 1
                for field, terms in zip(TEXT_FIELDS, (name_terms, product_terms, place_terms), strict=True):
                    delta.subtract((field, t) for t in terms)
                delta.subtract(("concepts", c) for c in set(concepts))
                delta.subtract(("specialties", c) for c in set(specialties))
            conn.execute(text(f"DELETE FROM {TABLE} WHERE lid = ANY(CAST(:ids AS bigint[]))"), {"ids": ids})
            live = [doc for doc in docs.values() if doc is not None]
            pids = point_ids(conn, {place for doc in live for place in doc.places})
            copy_rows(conn, TABLE, COLUMNS,
                      rows_and_counts(live, delta, rollup, lambda lat, lon: pids[(lat, lon)]))
            add_counts(conn, delta)
            add_rollup(conn, rollup)

    def rebuild(self, batches: Iterable[list[ListingDoc]], watermark: int) -> None:
        """Fresh tables built beside the live ones, then swapped in (see `tables.rebuild_tables`)."""
        rebuild_tables(self.engine, batches)

    def clear(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
            conn.execute(text(f"TRUNCATE {TABLE}, {POINTS}, {COUNTS}, {ROLLUP}"))

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

    def derived_drift(self) -> list[str]:
        """`search_count` and `search_rollup` (kept up by deltas at every write) against counts
        made afresh from the listing rows, and each row's home place against its listing's row 0."""
        with self.engine.connect() as conn:
            return [f"{what}: {n} {unit} differ from a fresh count" for what, unit, n in (
                (COUNTS, "terms or codes", conn.execute(text(FRESH_COUNTS)).scalar_one()),
                (ROLLUP, "cell tags", conn.execute(text(FRESH_ROLLUP)).scalar_one()),
                (f"{TABLE}.hpt", "rows", conn.execute(text(f"""
                    SELECT count(*) FROM {TABLE} a JOIN {TABLE} h ON h.lid = a.lid AND h.n = 0
                    WHERE a.hlat <> h.lat OR a.hlon <> h.lon OR a.hpt <> h.pt""")).scalar_one()),
            ) if n]

    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return not conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {TABLE})")).scalar_one()

    def indexed_digests(self) -> dict[int, str]:
        with self.engine.connect() as conn:
            return dict(conn.execute(text(f"SELECT lid, digest FROM {TABLE} WHERE n = 0")).all())

    def close(self) -> None:
        pass


FRESH_COUNTS = f"""
    WITH live AS (SELECT * FROM {TABLE} WHERE n = 0), fresh AS (
        SELECT 'docs' AS facet, '' AS code, count(*) AS n FROM live HAVING count(*) > 0
        UNION ALL SELECT 'name', t, count(*) FROM live, unnest(tsvector_to_array(name_tsv)) t GROUP BY t
        UNION ALL SELECT 'products', t, count(*) FROM live, unnest(tsvector_to_array(products_tsv)) t GROUP BY t
        UNION ALL SELECT 'place', t, count(*) FROM live, unnest(tsvector_to_array(place_tsv)) t GROUP BY t
        UNION ALL SELECT 'concepts', c, count(*) FROM live, unnest(concepts) c GROUP BY c
        UNION ALL SELECT 'specialties', c, count(*) FROM live, unnest(specialties) c GROUP BY c)
    SELECT count(*) FROM fresh FULL JOIN {COUNTS} kept
        ON kept.facet = fresh.facet AND kept.code = fresh.code COLLATE "C"
    WHERE fresh.n IS DISTINCT FROM kept.n"""

# The tags of `rows.rollup_tags`, in SQL, counted in both cells of each listing's home place.
FRESH_ROLLUP = f"""
    WITH fresh AS (
        SELECT cell, tag, count(*) AS n FROM {TABLE} a,
            unnest(ARRAY[{CELL_SQL["fine"].format(a="a")}, {CELL_SQL["coarse"].format(a="a")}]) AS cell,
            unnest(ARRAY['*']
                   || CASE WHEN kind = 'organization' THEN ARRAY['o'] ELSE ARRAY[]::text[] END
                   || CASE WHEN accepting THEN ARRAY['a'] ELSE ARRAY[]::text[] END
                   || ARRAY(SELECT 's:' || c FROM unnest(specialties) c)
                   || ARRAY(SELECT 'n:' || c FROM unnest(networks) c)) AS tag
        WHERE n = 0 GROUP BY cell, tag)
    SELECT count(*) FROM fresh FULL JOIN {ROLLUP} kept
        ON kept.cell = fresh.cell AND kept.tag = fresh.tag COLLATE "C"
    WHERE fresh.n IS DISTINCT FROM kept.n"""
