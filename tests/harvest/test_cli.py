"""The commands: source-add (clean errors), source-list, harvest --dry-run writes nothing, harvest
--full ends what the source no longer lists and the listing shows in the verification queue."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlmodel import Session

from directory.db import get_engine
from directory.models import AuditEntry, Listing, NetworkClaim, Participation
from directory.services.verification import queue
from tests.harvest.expected import expected_participation, participation


def test_source_add_refuses_bad_input_cleanly(runner, source_url):
    ok = runner.invoke(args=["source-add", "mirror", source_url, "--payer", "Nobody"])
    assert ok.exit_code == 0 and "source mirror added" in ok.output
    for args, said in ((["source-add", "mirror", source_url], "already exists"),
                       (["source-add", "other", "ftp://example.org/fhir"], "base_url")):
        result = runner.invoke(args=args)
        assert result.exit_code == 2 and said in result.output and "Traceback" not in result.output
    missing = runner.invoke(args=["harvest", "nope"])
    assert missing.exit_code == 2 and "no source named 'nope'" in missing.output


def test_dry_run_then_full_runs_and_the_end_of_a_listings_networks(app, runner, source_app, source_url):
    assert runner.invoke(args=["source-add", "mirror", source_url]).exit_code == 0
    dry = runner.invoke(args=["harvest", "mirror", "--dry-run"])
    assert dry.exit_code == 0 and "dry run" in dry.output and "listings added" in dry.output, dry.output
    with Session(get_engine(app)) as s:
        assert s.execute(select(func.count()).select_from(Listing)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(AuditEntry)
                         .where(AuditEntry.actor.like("harvest:%"))).scalar_one() == 0
    full = runner.invoke(args=["harvest"])
    assert full.exit_code == 0 and "0 problems" in full.output, full.output
    listed = runner.invoke(args=["source-list"])
    assert "mirror" in listed.output and "(done)" in listed.output and "next due" in listed.output
    # On the source, one provider leaves every network: the next full run ends its participation.
    expected = expected_participation(source_app)
    gone = sorted(expected)[0]
    with Session(get_engine(source_app)) as s:
        lid = s.execute(select(Listing.id).where(Listing.npi == gone)).scalar_one()
        s.execute(delete(Participation).where(Participation.listing_id == lid))
        s.commit()
    ended = runner.invoke(args=["harvest", "mirror", "--full"])
    assert ended.exit_code == 0 and f"participations ended {len(expected[gone])}" in ended.output, ended.output
    assert participation(app) == {npi: nets for npi, nets in expected.items() if npi != gone}
    with Session(get_engine(app)) as s:
        ours = s.execute(select(Listing.id).where(Listing.npi == gone)).scalar_one()
        claims = s.execute(select(NetworkClaim).where(NetworkClaim.listing_id == ours)).scalars().all()
        assert claims and all(c.ended_at is not None and c.period_end is not None for c in claims)
        items = queue(s, limit=500)
        assert [i.status for i in items if i.listing_id == ours] == ["networks_ended"]
