"""The lists a search is made from, as the public sees them: networks, specialties, and which
network ids exist (the check the search parser is given)."""

from __future__ import annotations

from sqlalchemy import select

from directory import reference
from directory.db import driver_rows, get_engine
from directory.models import Network, Specialty
from directory.read.shapes import NetworkPublic, SpecialtyPublic, construct


def known_networks(ids: list[int]) -> set[int]:
    """Which of these network ids exist (on the driver's cursor: this runs on most searches)."""
    if not ids:
        return set()
    marks = ", ".join(["?"] * len(ids))
    with get_engine().connect() as conn:
        rows = driver_rows(conn, f"SELECT id FROM {Network.__tablename__} WHERE id IN ({marks})", list(ids))
    return {nid for (nid,) in rows}


def networks() -> list[NetworkPublic]:
    """Every network, by payer then name."""
    with get_engine().connect() as conn:
        rows = conn.execute(select(Network.id, Network.name, Network.payer, Network.plan_type)
                            .order_by(Network.payer, Network.name)).all()
    return [construct(NetworkPublic, {"id": nid, "name": name, "payer": payer, "plan_type": plan_type})
            for nid, name, payer, plan_type in rows]


def specialties() -> list[SpecialtyPublic]:
    """Every specialty in the database, in taxonomy (file) order, then by code."""
    with get_engine().connect() as conn:
        rows = conn.execute(select(Specialty.code, Specialty.display, Specialty.group)).all()
    order = {code: i for i, code in enumerate(reference.taxonomy())}
    rows.sort(key=lambda row: (order.get(row[0], len(order)), row[0]))
    return [construct(SpecialtyPublic, {"code": code, "display": display, "group": group})
            for code, display, group in rows]
