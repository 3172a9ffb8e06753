"""Importing payer networks: upsert by (payer, name), plan types from seed_data/plan_types.csv."""

from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy import func, select

from directory.importers.networks import import_networks
from directory.models import AuditEntry, Network

FIXTURE = Path(__file__).parent.parent / "fixtures" / "networks.csv"


def run(session, text=None, **options):
    return import_networks(session, io.StringIO(text or FIXTURE.read_text()), actor="test", **options)


def networks(session) -> dict[tuple[str, str], str]:
    return {(n.payer, n.name): n.plan_type for n in session.execute(select(Network)).scalars()}


def test_import_creates_networks_and_rejects_bad_rows(session):
    report = run(session)
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    assert networks(session) == {("Acme Health", "Acme Select PPO"): "PPO",
                                 ("Acme Health", "Acme Community HMO"): "HMO",
                                 ("Green Circle", "Green Circle Medicaid"): "MEDICAID_MANAGED_CARE"}
    lines = {line: reason for line, _, reason in report.rejections}
    assert sorted(lines) == [5, 6, 7]
    assert "unknown plan type 'GOLD'" in lines[5]
    assert lines[6] == "payer: required"
    assert lines[7].startswith("duplicate")


def test_reimport_is_unchanged_and_plan_type_change_updates(session):
    run(session)
    audits = session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    assert run(session).unchanged == 3
    assert session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == audits
    report = run(session, "payer,name,plan_type\nAcme Health,Acme Select PPO,EPO\n")
    assert (report.updated, report.rejected) == (1, 0)
    assert networks(session)[("Acme Health", "Acme Select PPO")] == "EPO"


def test_dry_run_writes_nothing(session):
    report = run(session, dry_run=True)
    assert report.created == 3
    assert networks(session) == {}


def test_cells_are_restored_and_a_row_the_database_refuses_is_rejected_alone(session):
    from sqlalchemy import text as sql

    session.execute(sql("create trigger refuse_net before insert on network when new.name = 'Refused Plan' "
                        "begin select raise(abort, 'refused by the database'); end"))
    session.commit()
    report = run(session, "payer,name,plan_type\n'=Acme,Acme PPO,PPO\nAcme,Refused Plan,PPO\nAcme,Acme HMO,HMO\n")
    assert report.created == 2
    assert [(line, key) for line, key, _ in report.rejections] == [(3, "Acme / Refused Plan")]
    assert "refused by the database" in report.rejections[0][2]
    assert set(networks(session)) == {("=Acme", "Acme PPO"), ("Acme", "Acme HMO")}


def test_a_changed_network_gets_a_new_updated_at_and_an_unchanged_one_keeps_it(session):
    """updated_at is its FHIR resources' meta.lastUpdated: it moves only when the network changes."""
    run(session)
    before = {n.name: n.updated_at for n in session.execute(select(Network)).scalars()}
    run(session, "payer,name,plan_type\nAcme Health,Acme Select PPO,EPO\nAcme Health,Acme Community HMO,HMO\n")
    session.expire_all()
    after = {n.name: n.updated_at for n in session.execute(select(Network)).scalars()}
    assert after["Acme Select PPO"] > before["Acme Select PPO"]
    assert after["Acme Community HMO"] == before["Acme Community HMO"]
