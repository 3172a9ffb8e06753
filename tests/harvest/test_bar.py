"""The issue's bar, at a few hundred listings: an empty directory harvests exactly the source's
participation; a second run writes nothing; an incremental run applies exactly the roles changed.
The harvesting directory runs on each backend (the source is always SQLite + Whoosh)."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from directory.db import get_engine
from directory.models import AuditEntry, IndexChange, Listing, Network, NetworkClaim, Participation, Role, utcnow
from tests.backends import BACKENDS
from tests.harvest.conftest import expected_participation, participation, register, run


def _writes(app) -> tuple[int, int]:
    with Session(get_engine(app)) as s:
        return (s.execute(select(func.count()).select_from(AuditEntry)).scalar_one(),
                s.execute(select(func.count()).select_from(IndexChange)).scalar_one())


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_empty_directory_gets_exactly_the_sources_participation_then_a_second_run_writes_nothing(
        app, source_app, source_url):
    source = register(app, source_url)
    report = run(app, source)
    assert report.complete and report.errors == []
    expected = expected_participation(source_app)
    assert len(expected) > 100
    assert participation(app) == expected
    with Session(get_engine(app)) as s:  # each new listing says where it came from
        assert set(s.execute(select(Listing.source)).scalars()) == {"harvest"}
        assert s.execute(select(func.count()).select_from(Listing)).scalar_one() == len(expected)
    before = _writes(app)
    again = run(app, source, full=True)
    assert again.complete and again.counts.get("participations_added") is None
    assert _writes(app) == before
    incremental = run(app, source)
    assert not incremental.full and _writes(app) == before


def _change_roles(source_app, n: int) -> set[str]:
    """Change n practitioners' participation on the source (a network left or joined, acceptance
    flipped), as its staff would; returns their NPIs."""
    rng = random.Random(5)
    with Session(get_engine(source_app)) as s:
        networks = list(s.execute(select(Network.id)).scalars())
        practitioners = sorted(set(s.execute(select(Role.practitioner_id)).scalars()))
        changed = set()
        for i, lid in enumerate(rng.sample(practitioners, n)):
            listing = s.get(Listing, lid)
            held = list(s.execute(select(Participation).where(Participation.listing_id == lid)).scalars())
            if i % 3 == 0 and held:
                s.delete(held[0])
            elif i % 3 == 1:
                free = [nid for nid in networks if nid not in {p.network_id for p in held}]
                s.add(Participation(listing_id=lid, network_id=rng.choice(free), start_date=utcnow().date()))
            else:
                for role in s.execute(select(Role).where(Role.practitioner_id == lid)).scalars():
                    role.accepting_new_patients = not role.accepting_new_patients
                if not held:
                    continue
            listing.updated_at = utcnow()
            changed.add(listing.npi)
        s.commit()
    return changed


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_incremental_run_applies_exactly_the_roles_changed(app, source_app, source_url):
    source = register(app, source_url)
    run(app, source)
    changed = _change_roles(source_app, 30)
    with Session(get_engine(app)) as s:
        first_audit = s.execute(select(func.max(AuditEntry.id))).scalar_one()
    report = run(app, source)
    assert not report.full and report.complete
    assert participation(app) == expected_participation(source_app)
    with Session(get_engine(app)) as s:
        touched = set(s.execute(select(Listing.npi).join(AuditEntry, AuditEntry.listing_id == Listing.id)
                                .where(AuditEntry.id > first_audit)).scalars())
        actors = set(s.execute(select(AuditEntry.actor).where(AuditEntry.id > first_audit)).scalars())
        ended = s.execute(select(func.count()).select_from(NetworkClaim)
                          .where(NetworkClaim.ended_at.is_not(None))).scalar_one()
    assert touched == changed
    assert actors == {"harvest:mirror"}
    assert ended == report.counts["participations_ended"] > 0
