"""The PostgreSQL backend's search statements: the radius test of a point, the runs of the area
index around a place, the one statement that answers a search row by row (topic conditions as
bits around a place), what a search by place alone counts one by one, and the result."""

from __future__ import annotations

import math

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from directory.geo import EARTH_RADIUS_MI, great_circle_mi
from directory.search.contract import Hit, SearchResult
from directory.search.ordering import area_ranges, unit_vectors
from directory.search.postgres.cells import FINE_COL_SQL, FINE_ROW_SQL, Cover
from directory.search.postgres.rows import MASK_BITS, codebook, cube_literal, topic_mask, tsvector_literal
from directory.search.postgres.tables import POINTS, TABLE
from directory.search.query import Place, SearchQuery


def within(place: Place, alias: str, home: bool = False) -> tuple[str, str, dict]:
    """(chord expression, condition, parameters): `alias`'s point (columns pt, lat, lon; with
    `home`, its listing's home place: hpt, hlat, hlon) is within `place`'s radius.

    As the Whoosh backend: the chord between unit vectors orders places as the great-circle
    distance does; points within rounding of the edge are decided by geopy's formula itself."""
    centre = cube_literal(unit_vectors(np.array([place.lat]), np.array([place.lon]))[0])
    limit = (2 * math.sin(place.radius_mi / EARTH_RADIUS_MI / 2)) ** 2
    lat1, lng1 = math.radians(place.lat), math.radians(place.lon)
    h = "h" if home else ""
    lat, lon = f"{alias}.{h}lat", f"{alias}.{h}lon"
    dist = f"cube_distance({alias}.{h}pt, CAST(:g_centre AS cube))"
    condition = f"""({dist} <= :g_in
           OR ({dist} <= :g_out
               AND :g_r * atan2(
                   sqrt(power(cos(radians({lat})) * sin(radians({lon}) - :g_l1), 2)
                        + power(:g_c1 * sin(radians({lat}))
                                - :g_s1 * cos(radians({lat})) * cos(radians({lon}) - :g_l1), 2)),
                   :g_s1 * sin(radians({lat})) + :g_c1 * cos(radians({lat})) * cos(radians({lon}) - :g_l1))
               <= :g_radius))"""
    params = {"g_centre": centre,
              "g_in": math.sqrt(limit * (1 - 1e-9)), "g_out": math.sqrt(limit * (1 + 1e-9)),
              "g_r": EARTH_RADIUS_MI, "g_l1": lng1, "g_s1": math.sin(lat1), "g_c1": math.cos(lat1),
              "g_radius": place.radius_mi}
    return dist, condition, params


def area_statement(place: Place, param) -> str:
    """The runs of the area index around `place` as rows (lo, hi, edge): see `ordering.area_ranges`."""
    low, high, edge = area_ranges(place.lat, place.lon, place.radius_mi)
    return (f"SELECT * FROM unnest(CAST({param(low.tolist())} AS float8[]), CAST({param(high.tolist())} AS float8[]), "
            f"CAST({param(edge.tolist())} AS boolean[])) AS area(lo, hi, edge)")


def nearest_points(conn: Connection, place: Place, k: int) -> tuple[list[tuple[int, float]], bool]:
    """The `k` places (search_point) nearest the centre that are within the radius, as (pid,
    chord) nearest first, found by the GiST index's nearest-neighbour order; and whether they are
    all the places within the radius."""
    dist, inside, params = within(place, "p")
    rows = conn.execute(text(f"""
        SELECT p.pid, {dist} AS dist, {inside} FROM {POINTS} p
        ORDER BY p.pt <-> CAST(:g_centre AS cube) LIMIT :k"""), {**params, "k": k}).all()
    complete = len(rows) < k or rows[-1][1] > params["g_out"]
    return [(pid, d) for pid, d, ok in rows if ok], complete


# Specialties come back as each listing's bits (`rows.specialty_counts` adds them up): the area
# index holds the bits, not the codes.
AREA_COUNTS = """
    (SELECT array_agg(smask) FROM {rows}),
    (SELECT json_object_agg(code, n) FROM (SELECT unnest(networks) AS code, count(*) AS n
                                           FROM {rows} GROUP BY 1) f),
    (SELECT ARRAY[count(*), count(*) FILTER (WHERE kind = 'organization'), count(*) FILTER (WHERE accepting)]
     FROM {rows})"""


def edge_counts_statement(place: Place, cover: Cover) -> tuple[str, dict]:
    """What the cells wholly inside the circle leave out (see `cells`): the listings at home in the
    fine cells its edge cuts, within the radius, and the listings at home outside it with another
    place inside. Gives their specialty bits, network counts and [listings, organizations, accepting]."""
    _d, inside, params = within(place, "s")
    _d, away_inside, _p = within(place, "a")
    _d, home_inside, _p = within(place, "a", home=True)
    params.update({"c_rows": cover.cut_rows.tolist(), "c_cols": cover.cut_cols.tolist(),
                   "c_lo": cover.cut_low.tolist(), "c_hi": cover.cut_high.tolist()})

    def param(value) -> str:
        params[f"a{len(params)}"] = value
        return f":a{len(params) - 1}"

    sql = f"""
        WITH cut AS (SELECT * FROM unnest(CAST(:c_rows AS int[]), CAST(:c_cols AS int[]), CAST(:c_lo AS float8[]),
                                          CAST(:c_hi AS float8[])) AS cut(r, c, lo, hi)),
        area AS ({area_statement(place, param)}),
        -- One run of the area index per run or cut cell: LATERAL with OFFSET 0, which the planner
        -- cannot flatten (left to itself, it read the whole table, 0.6 s at 1M listings).
        away AS (
            SELECT DISTINCT a.lid FROM area CROSS JOIN LATERAL (
                SELECT a.lid FROM {TABLE} a
                WHERE a.key >= area.lo AND a.key < area.hi AND a.n > 0
                  AND (NOT area.edge OR {away_inside}) AND NOT {home_inside} OFFSET 0) a),
        edge AS (
            SELECT s.kind, s.accepting, s.smask, s.networks FROM cut CROSS JOIN LATERAL (
                SELECT s.kind, s.accepting, s.smask, s.networks FROM {TABLE} s
                WHERE s.key BETWEEN cut.lo AND cut.hi AND s.n = 0
                  AND {FINE_ROW_SQL.format(a="s")} = cut.r AND {FINE_COL_SQL.format(a="s")} = cut.c
                  AND {inside} OFFSET 0) s
            UNION ALL
            SELECT h.kind, h.accepting, h.smask, h.networks FROM away CROSS JOIN LATERAL (
                SELECT h.kind, h.accepting, h.smask, h.networks FROM {TABLE} h
                WHERE h.lid = away.lid AND h.n = 0 OFFSET 0) h)
        SELECT {AREA_COUNTS.format(rows="edge")}"""
    return sql, params


def result(query: SearchQuery, total: int, page: list, specialty: dict, network: dict,
           organizations: int, accepting: int) -> SearchResult:
    """The SearchResult of a page of (lid, lat, lon, score, location id) and the counts."""
    if query.place is not None and page:
        miles = great_circle_mi(query.place.lat, query.place.lon, np.array([p[1] for p in page]),
                                np.array([p[2] for p in page])).tolist()
        hits = [Hit(int(lid), mi, float(score), int(loc) or None)
                for (lid, _lat, _lon, score, loc), mi in zip(page, miles, strict=True)]
    else:
        hits = [Hit(int(lid), None, float(score)) for lid, _lat, _lon, score, _loc in page]
    facets = {}
    if query.facets:
        kinds = {"organization": organizations, "practitioner": total - organizations}
        facets = {
            "specialty": _ordered(specialty),
            "network": _ordered(network),
            "kind": _ordered({k: n for k, n in kinds.items() if n}),
            "accepting": _ordered({"true": accepting, "false": total - accepting}),
        }
    return SearchResult(total, hits, facets)


def _ordered(counts: dict | None) -> dict[str, int]:
    """Facet counts, most first then by key (as the Whoosh backend orders them)."""
    items = ((str(k), int(v)) for k, v in (counts or {}).items())
    return dict(sorted(items, key=lambda kv: (-kv[1], kv[0])))


def topic_condition(facet: str, codes: list[str], by_place: bool, param) -> str:
    """A listing holds one of these topic codes. Around a place, as a test of bits (cmask / smask,
    read with the place index); without one, as an array overlap the GIN index answers."""
    if by_place and all(i < MASK_BITS for i in codebook().encode(facet, codes)):
        column = {"concepts": "cmask", "specialties": "smask"}[facet]
        return f"(s.{column} & CAST({param(topic_mask(facet, codes))} AS bigint)) <> 0"
    return f"s.{facet} && CAST({param(codes)} AS text[])"


def build_search(query: SearchQuery, words, near: Place | None) -> tuple[str, dict]:
    """One statement: the matching rows once per listing (at its nearest place), their total, one
    page in order, and the facet counts. `near`: the search's place, whose listings around the
    statement finds itself (they never leave the server: with street points a metro holds tens of
    thousands)."""
    params: dict = {}
    where: list[str] = []
    later: list[str] = []  # array overlaps, tested only on the listings the other conditions keep

    def param(value) -> str:
        name = f"p{len(params)}"
        params[name] = value
        return f":{name}"

    near_cte = ""
    if near is not None:
        dist, inside, near_params = within(near, "s")
        params.update(near_params)
        near_cte = f"area AS ({area_statement(near, param)}), "
        distance = dist
        # Runs of the area index, one to three per latitude band; a listing in a run along the
        # circle's edge is tested by its own point, one in the band's middle is inside.
        source = f"area JOIN {TABLE} s ON s.key >= area.lo AND s.key < area.hi"
        place = f"(NOT area.edge OR {inside})"
    else:
        distance = "NULL::float8"
        source = f"{TABLE} s"
        place = "s.n = 0"

    if query.kind is not None:
        where.append(f"s.kind = {param(query.kind)}")
    if query.accepting:
        where.append("s.accepting")
    if query.telehealth:
        where.append("s.telehealth")
    if query.specialties:
        where.append(topic_condition("specialties", list(query.specialties), near is not None, param))
    for column, values, sql_type in (("networks", query.networks, "int[]"),
                                     ("languages", query.languages, "text[]"),
                                     ("services", query.services, "text[]")):
        if values:
            # Around a place, tested after the cheaper conditions (see below).
            (later if near is not None else where).append(
                f"s.{column} && CAST({param(list(values))} AS {sql_type})")

    score = "0::float8"
    if query.q:
        if words is None:
            where.append("false")  # text with no searchable word matches nothing
        for terms, topics in words or []:
            cases = []
            for field, term, weight in terms:
                cases.append((f"s.{field}_tsv @@ CAST({param(tsvector_literal([term]))} AS tsquery)", weight))
            for facet, codes, weight in topics:
                cases.append((topic_condition(facet, codes, near is not None, param), weight))
            if not cases:
                where.append("false")
                continue
            where.append("(" + " OR ".join(cond for cond, _ in cases) + ")")
            best = ", ".join(f"CASE WHEN {cond} THEN CAST({param(w)} AS float8) ELSE 0::float8 END"
                             for cond, w in cases)
            score = f"({score} + GREATEST({best}))"

    # PostgreSQL orders a scan's conditions by estimated cost, and rates an array overlap below a
    # test of bits, which it would then run on every listing around; a CASE keeps the order.
    condition = " AND ".join([place, *where, *later])
    if where and later:
        condition = f"{place} AND CASE WHEN {' AND '.join(where)} THEN {' AND '.join(later)} ELSE false END"
    facet_sql = AREA_COUNTS.format(rows="best") if query.facets else "NULL, NULL, NULL"
    # The page. Without a place, rows are read from the table itself and carry their names. Around
    # a place they come from the area index, which holds no names: names are read by primary key
    # only for the listings that can be on the page, those as near as (or scoring as high as) its
    # last one, ties included (sorted by name: every listing's).
    name, names, order = ", s.name_key", "", {"distance": "b.dist, b.name_key, b.lid",
                                               "relevance": "b.score DESC, b.name_key, b.lid",
                                               "name": "b.name_key, b.lid"}[query.sort]
    reach = "true"
    if near is not None:
        name, order = "", order.replace("b.name_key", "h.name_key")
        names = f"CROSS JOIN LATERAL (SELECT h.name_key FROM {TABLE} h WHERE h.lid = b.lid AND h.n = b.n OFFSET 0) h"
        wanted = query.offset + query.per_page
        if query.sort == "distance":
            reach = f"dist <= (SELECT max(dist) FROM (SELECT dist FROM best ORDER BY dist LIMIT {param(wanted)}) w)"
        elif query.sort == "relevance":
            reach = (f"score >= (SELECT min(score) FROM (SELECT score FROM best ORDER BY score DESC "
                     f"LIMIT {param(wanted)}) w)")
    sql = f"""
        WITH {near_cte}hit AS (
            SELECT s.lid, s.n, s.multi, s.kind, s.accepting, s.smask, s.networks,
                   s.lat, s.lon, s.loc, {distance} AS dist, {score} AS score{name}
            FROM {source}
            WHERE {condition}
        ), best AS (
            SELECT * FROM hit WHERE NOT multi
            UNION ALL
            (SELECT DISTINCT ON (lid) * FROM hit WHERE multi ORDER BY lid, dist, loc)
        )
        SELECT (SELECT count(*) FROM best),
               (SELECT json_agg(json_build_array(lid, lat, lon, score, loc) ORDER BY rank)
                FROM (SELECT b.lid, b.lat, b.lon, b.score, b.loc, row_number() OVER (ORDER BY {order}) AS rank
                      FROM (SELECT * FROM best WHERE {reach}) b {names}
                      ORDER BY {order} LIMIT {param(query.per_page)} OFFSET {param(query.offset)}) page),
               {facet_sql}
    """
    return sql, params
