"""The PostgreSQL backend's search statements: the places in a radius, the one statement that
answers a search row by row (with its topic conditions as bits around a place), and the result."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from directory.geo import EARTH_RADIUS_MI, great_circle_mi
from directory.search.contract import Hit, SearchResult
from directory.search.ordering import unit_vectors
from directory.search.postgres.rows import MASK_BITS, codebook, cube_literal, topic_mask, tsvector_literal
from directory.search.postgres.tables import POINTS, TABLE
from directory.search.query import Place, SearchQuery


class Near(NamedTuple):
    """The places within a search's radius: search_point ids and chord lengths, nearest first."""

    pids: list[int]
    dists: list[float]


def near_statement(place: Place) -> tuple[str, dict]:
    """The statement of the places within `place`'s radius, as (pid, dist) rows nearest first.

    As the Whoosh backend: the chord between unit vectors orders places as the great-circle
    distance does; places within rounding of the edge are decided by geopy's formula itself. The
    radius is tested once per distinct place (search_point), not once per listing."""
    centre = cube_literal(unit_vectors(np.array([place.lat]), np.array([place.lon]))[0])
    limit = (2 * math.sin(place.radius_mi / EARTH_RADIUS_MI / 2)) ** 2
    lat1, lng1 = math.radians(place.lat), math.radians(place.lon)
    sql = f"""
        SELECT pid, dist FROM (
            SELECT p.pid, p.lat, p.lon, cube_distance(p.pt, CAST(:g_centre AS cube)) AS dist FROM {POINTS} p
            WHERE p.pt <@ cube_enlarge(CAST(:g_centre AS cube), :g_box, 3)) p
        WHERE dist <= :g_in
           OR (dist <= :g_out
               AND :g_r * atan2(
                   sqrt(power(cos(radians(lat)) * sin(radians(lon) - :g_l1), 2)
                        + power(:g_c1 * sin(radians(lat)) - :g_s1 * cos(radians(lat)) * cos(radians(lon) - :g_l1), 2)),
                   :g_s1 * sin(radians(lat)) + :g_c1 * cos(radians(lat)) * cos(radians(lon) - :g_l1))
               <= :g_radius)"""
    params = {"g_centre": centre, "g_box": math.sqrt(limit) * (1 + 1e-6),
              "g_in": math.sqrt(limit * (1 - 1e-9)), "g_out": math.sqrt(limit * (1 + 1e-9)),
              "g_r": EARTH_RADIUS_MI, "g_l1": lng1, "g_s1": math.sin(lat1), "g_c1": math.cos(lat1),
              "g_radius": place.radius_mi}
    return sql, params


def places_near(conn: Connection, place: Place) -> Near:
    """The places within the radius, read into Python (a search by place alone walks them)."""
    sql, params = near_statement(place)
    rows = conn.execute(text(sql + " ORDER BY dist, pid"), params).all()
    return Near([r[0] for r in rows], [r[1] for r in rows])


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


def build_search(query: SearchQuery, words, near: Near | Place | None) -> tuple[str, dict]:
    """One statement: the matching rows once per listing (at its nearest place), their total, one
    page in order, and the facet counts. `near`: the places around as read before (`Near`), or the
    search's place, whose places around the statement finds itself (they never leave the server:
    with street points a metro holds tens of thousands)."""
    params: dict = {}
    where: list[str] = []
    later: list[str] = []  # array overlaps, tested only on the listings the other conditions keep

    def param(value) -> str:
        name = f"p{len(params)}"
        params[name] = value
        return f":{name}"

    near_cte = ""
    if isinstance(near, Place):
        statement, near_params = near_statement(near)
        params.update(near_params)
        near_cte = f"near AS MATERIALIZED ({statement}), "
        distance = "near.dist"
        source = f"near JOIN {TABLE} s ON s.pid = near.pid"
        # The join alone: each place found probes the place index once (an array condition
        # beside it would be tested in full at every probe).
        place = "true"
    elif near is not None:
        pids, dists = param(near.pids), param(near.dists)
        near_cte = (f"near AS (SELECT * FROM unnest(CAST({pids} AS int[]), CAST({dists} AS float8[])) "
                    f"AS near(pid, dist)), ")
        distance = "near.dist"
        source = f"near JOIN {TABLE} s ON s.pid = near.pid"
        # Spelled out so that the planner reads the listings of these places through the place
        # index (an index-only scan when the columns read are in it), not only through the join.
        place = f"s.pid = ANY(CAST({pids} AS int[]))"
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
        WITH {near_cte}hit AS (
            SELECT s.lid, s.multi, s.name_key, s.kind, s.accepting, s.specialties, s.networks,
                   s.lat, s.lon, s.loc, {distance} AS dist, {score} AS score
            FROM {source}
            WHERE {condition}
        ), best AS (
            SELECT * FROM hit WHERE NOT multi
            UNION ALL
            (SELECT DISTINCT ON (lid) * FROM hit WHERE multi ORDER BY lid, dist, loc)
        )
        SELECT (SELECT count(*) FROM best),
               (SELECT json_agg(json_build_array(lid, lat, lon, score, loc) ORDER BY {order})
                FROM (SELECT lid, name_key, lat, lon, loc, dist, score FROM best ORDER BY {order}
                      LIMIT {param(query.per_page)} OFFSET {param(query.offset)}) page),
               {facet_sql}
    """
    return sql, params
