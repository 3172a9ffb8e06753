"""A faulty source: each problem is reported with its resource and page, what can be used is used,
a page that cannot be read is not applied, and a run that missed pages ends nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from directory.db import get_engine
from directory.models import HarvestSource, Listing, NetworkClaim
from tests.harvest.conftest import register, run
from tests.harvest.expected import participation
from tests.harvest.server import (
    Answer,
    FaultyServer,
    affiliation,
    bundle,
    location,
    network,
    organization,
    practitioner,
    role,
)


@pytest.fixture
def faulty():
    with FaultyServer() as server:
        yield server


def test_unusable_resources_are_reported_with_their_page_and_skipped(app, faulty):
    faulty.script["PractitionerRole"] = [bundle([
        role(1), practitioner(1), location(1), network(1),
        role(2), practitioner(2, npi=None), location(2),  # no NPI
        role(3), practitioner(3, npi="1234567890"), location(3),  # fails the check digit
        role(4, network_ref="Organization/net-404"), practitioner(4), location(4),  # a bad reference
        {"resource": {"resourceType": "Patient", "id": "x"}, "search": {"mode": "match"}},  # wrong type
        role(5), location(5),  # its practitioner is not in the page
    ])]
    report = run(app, register(app, faulty.base))
    problems = "\n".join(report.errors)
    assert "PractitionerRole/r-2" in problems and "has no NPI" in problems
    assert "PractitionerRole/r-3" in problems and "invalid NPI" in problems
    assert "PractitionerRole/r-4" in problems and "net-404" in problems
    assert "Patient/x" in problems and "a Patient where PractitionerRole was asked for" in problems
    assert "PractitionerRole/r-5" in problems and "bad reference" in problems
    assert all("page http://127.0.0.1" in line for line in report.errors)
    found = participation(app)
    assert list(found.values()) == [{("Faulty Health", "Faulty Net 1 PPO", None, None)}]
    assert report.complete  # every page was read: problems are per resource


@pytest.mark.parametrize("bad, said", [
    (Answer("{\"resourceType\": \"Bundle\", \"entry\": [", ), "malformed JSON"),
    (Answer("<html><body>Bad gateway</body></html>", status=200, content_type="text/html"), "an HTML page"),
    (Answer("", status=503, headers={"Retry-After": "0"}), "HTTP 503 after 3 attempts"),
    (Answer("{}", delay=1.0), "no answer within 0.5 s"),
    (Answer("{\"resourceType\": \"Patient\", \"id\": \"1\"}"), "expected a Bundle"),
])
def test_a_page_that_cannot_be_read_stops_the_search_and_the_run_ends_nothing(app, faulty, bad, said):
    faulty.script["PractitionerRole"] = [bundle([role(1), practitioner(1), location(1), network(1)],
                                                next_url=f"{faulty.base}/page-2")]
    faulty.script["page-2"] = [bad]
    source = register(app, faulty.base)
    first = run(app, source, full=True)
    assert not first.complete  # the bad page is the second one
    assert any(said in e and "page-2" in e for e in first.errors), first.errors
    assert len(participation(app)) == 1  # the good first page was applied, the bad one not
    with Session(get_engine(app)) as s:
        assert s.execute(select(HarvestSource.high_water)).scalar_one() is None
    # The source now lists nobody; a full run that could not read every page ends nothing.
    faulty.script["PractitionerRole"] = [bundle([], next_url=f"{faulty.base}/page-2")]
    faulty.hits.clear()
    second = run(app, source, full=True)
    assert not second.complete
    with Session(get_engine(app)) as s:
        assert s.execute(select(NetworkClaim.ended_at)).scalars().all() == [None]


def test_a_next_link_loop_is_reported_and_a_retry_after_is_honoured(app, faulty):
    loop = f"{faulty.base}/page-2"
    faulty.script["PractitionerRole"] = [Answer("", status=429, headers={"Retry-After": "0"}),
                                         bundle([role(1), practitioner(1), location(1), network(1)], next_url=loop)]
    faulty.script["page-2"] = [bundle([], next_url=loop)]
    report = run(app, register(app, faulty.base))
    assert faulty.hits["PractitionerRole"] == 2  # asked again after the 429
    assert any("loop" in e for e in report.errors)
    assert faulty.hits["page-2"] == 1
    with Session(get_engine(app)) as s:
        assert len(s.execute(select(Listing.id)).all()) == 1


def test_an_npi_we_list_as_the_other_kind_is_reported_and_left_alone(app, factory, faulty):
    """The guide's examples give one NPI to practitioners and to an organization: ours says which it is."""
    ours = factory.listing(kind="practitioner")
    faulty.script["OrganizationAffiliation"] = [bundle([
        affiliation(1), organization(1, ours.npi), location(1), network(1)])]
    report = run(app, register(app, faulty.base))
    [said] = report.errors
    assert said.startswith("OrganizationAffiliation/a-1 on page") and (
        f"NPI {ours.npi} is a practitioner's here, but the source gives it to an organization; skipped" in said)
    assert participation(app) == {}
    with Session(get_engine(app)) as s:
        assert s.execute(select(Listing.kind)).scalars().all() == ["practitioner"]
