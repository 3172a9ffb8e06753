"""The issue's bar, at a few hundred listings: an empty directory harvests exactly the source's
participation; a second run writes nothing; an incremental run applies exactly the roles changed.
The harvesting directory runs on each backend (the source is always SQLite + Whoosh)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from directory.db import get_engine
from directory.models import AuditEntry, Listing, NetworkClaim
from tests.backends import BACKENDS
from tests.harvest.conftest import register, run
from tests.harvest.expected import (
    change_roles,
    expected_organizations,
    expected_participation,
    networks,
    participation,
    writes,
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_empty_directory_gets_exactly_the_sources_participation_then_a_second_run_writes_nothing(
        app, source_app, source_url):
    source = register(app, source_url)
    report = run(app, source)
    assert report.complete and report.errors == []
    expected = expected_participation(source_app)
    assert len(expected) > 100
    assert participation(app) == expected
    assert networks(app) == networks(source_app)  # each with its InsurancePlan's type
    with Session(get_engine(app)) as s:  # each new listing says where it came from
        assert set(s.execute(select(Listing.source)).scalars()) == {"harvest"}
        npis = list(s.execute(select(Listing.npi)).scalars())
    assert sorted(npis) == sorted(set(expected) | expected_organizations(source_app))
    before = writes(app)
    again = run(app, source, full=True)
    assert again.complete and again.counts.get("participations_added") is None
    assert writes(app) == before
    incremental = run(app, source)
    assert not incremental.full and writes(app) == before


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_incremental_run_applies_exactly_the_roles_changed(app, source_app, source_url):
    source = register(app, source_url)
    run(app, source)
    changed = change_roles(source_app, 30)
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
