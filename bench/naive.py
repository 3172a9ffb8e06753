"""The naive baseline: the same queries by SQL bounding box + Python distance + LIKE.

What a first version of a directory would do: no search index, the database answers everything.
It has the same filters and facets as the real engine so the comparison is like for like.
"""

from __future__ import annotations

from collections import Counter

from geopy.distance import great_circle
from sqlalchemy import text
from sqlalchemy.engine import Engine

from directory import reference
from directory.geo import bounding_box
from directory.reference import words
from directory.search.documents import iter_all_docs
from directory.search.query import SearchQuery


def topics(doc) -> str:
    """The words of a listing's specialties and concepts, synonyms included (as the engine sees them)."""
    vocabulary, taxonomy = reference.vocabulary(), reference.taxonomy()
    parts = [f"{taxonomy[c]['display']} {taxonomy[c]['group']}" for c in doc.specialties if c in taxonomy]
    for concept_id in doc.concepts:
        concept = vocabulary.by_id[concept_id]
        parts.extend((concept.label, *concept.synonyms))
    return " ".join(parts)


def prepare(engine: Engine) -> None:
    """Give the baseline its fair chances: coordinate indexes and a denormalised text column."""
    with engine.begin() as conn:
        conn.execute(text("create index if not exists bench_loc_lat on location (lat, lon)"))
        conn.execute(text("drop table if exists bench_text"))
        conn.execute(text("create table bench_text (listing_id integer primary key, body text)"))
    from sqlmodel import Session

    with Session(engine) as session:
        for docs in iter_all_docs(session, 5000):
            session.execute(
                text("insert into bench_text values (:id, :body)"),
                [
                    {"id": d.lid, "body": f"{d.name_text} {topics(d)} {d.products_text} {d.place_text}".lower()}
                    for d in docs
                ],
            )
        session.commit()


# A listing's places, as the index sees them: its own locations and, for a practitioner, the
# locations of its roles (many practitioners have no location of their own; joining `location`
# alone missed them, so the baseline found fewer listings than the engine).
PLACES = (
    "select listing_id, lat, lon from location "
    "union all select r.practitioner_id, l2.lat, l2.lon from role r join location l2 on l2.id = r.location_id"
)


def search(engine: Engine, query: SearchQuery) -> tuple[int, list[int], dict]:
    """(total, ids of the first page, facets) for `query`, computed the naive way."""
    clauses, params = ["l.active = 1"], {}
    if query.place:
        min_lat, max_lat, min_lon, max_lon = bounding_box(
            query.place.lat, query.place.lon, query.place.radius_mi
        )
        clauses.append("loc.lat between :min_lat and :max_lat and loc.lon between :min_lon and :max_lon")
        params.update(min_lat=min_lat, max_lat=max_lat, min_lon=min_lon, max_lon=max_lon)
    if query.accepting:
        clauses.append("l.accepting_new_patients = 1")
    if query.kind:
        clauses.append("l.kind = :kind")
        params["kind"] = query.kind
    if query.networks:
        ids = ",".join(str(int(n)) for n in query.networks)
        clauses.append(
            f"exists (select 1 from participation p where p.listing_id = l.id and p.network_id in ({ids}))"
        )
    if query.specialties:
        codes = ",".join(f"'{c}'" for c in query.specialties)
        clauses.append(
            f"exists (select 1 from listingspecialty s where s.listing_id = l.id and s.code in ({codes}))"
        )
    for i, word in enumerate(words(query.q)):
        clauses.append(f"t.body like :w{i}")
        params[f"w{i}"] = f"%{word}%"
    sql = (
        "select l.id, l.name, l.kind, l.accepting_new_patients, loc.lat, loc.lon "
        f"from listing l join ({PLACES}) loc on loc.listing_id = l.id "
        + ("join bench_text t on t.listing_id = l.id " if query.q else "")
        + "where " + " and ".join(clauses)
    )
    with engine.connect() as conn:
        rows = conn.execute(text(sql), params).all()
    best: dict[int, tuple] = {}
    for lid, name, kind, accepting, lat, lon in rows:
        miles = 0.0
        if query.place:
            miles = great_circle((query.place.lat, query.place.lon), (lat, lon)).miles
            if miles > query.place.radius_mi:
                continue
        if lid not in best or miles < best[lid][0]:
            best[lid] = (miles, name.casefold(), lid, kind, accepting)
    ordered = sorted(best.values())
    page = [row[2] for row in ordered[query.offset : query.offset + query.per_page]]
    facets = {
        "kind": Counter(row[3] for row in ordered),
        "accepting": Counter(bool(row[4]) for row in ordered),
    }
    if ordered:
        ids = ",".join(str(row[2]) for row in ordered)
        with engine.connect() as conn:
            facets["specialty"] = Counter(
                conn.execute(text(f"select code from listingspecialty where listing_id in ({ids})")).scalars()
            )
            facets["network"] = Counter(
                conn.execute(text(f"select network_id from participation where listing_id in ({ids})")).scalars()
            )
    return len(ordered), page, facets
