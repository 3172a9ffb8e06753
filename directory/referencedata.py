"""Loading the reference tables (specialties) from seed_data into the database."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from directory import reference
from directory.models import Specialty


def sync_specialties(session: Session) -> int:
    """Insert or update every taxonomy code of seed_data/taxonomy.csv; returns rows written."""
    existing = {s.code: s for s in session.execute(select(Specialty)).scalars()}
    written = 0
    for code, row in reference.taxonomy().items():
        found = existing.get(code)
        values = {"display": row["display"], "group": row["group"], "section": row["section"]}
        if found is None:
            session.add(Specialty(code=code, **values))
            written += 1
        elif any(getattr(found, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(found, key, value)
            written += 1
    return written
