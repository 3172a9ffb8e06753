"""The import and export commands, registered on a test app the way create_app will register them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from directory.db import get_engine
from directory.importers import cli
from directory.models import Listing, Network
from directory.search import get_searcher
from directory.search.sync import check_index

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture
def runner(app):
    cli.init_app(app)
    return app.test_cli_runner()


def listings(session) -> int:
    return session.execute(select(func.count()).select_from(Listing)).scalar_one()


def test_import_csv_prints_rejections_and_exits_1(app, runner, session):
    result = runner.invoke(args=["import-csv", str(FIXTURES / "template_listings.csv")])
    assert result.exit_code == 1
    assert "created 3, updated 0, unchanged 0" in result.output
    assert "line 5: 2000700016: npi:" in result.output
    assert "line 6: 2000700023:" in result.output
    assert listings(session) == 3
    # The index was brought up to date before the command returned.
    assert check_index(get_engine(app), get_searcher(app)).ok


def test_dry_run_writes_nothing(runner, session):
    result = runner.invoke(args=["import-csv", "--dry-run", str(FIXTURES / "template_listings.csv")])
    assert "dry run, nothing written: would have created 3" in result.output
    assert listings(session) == 0


def test_clean_import_exits_0(tmp_path, runner, session):
    clean = tmp_path / "clean.csv"
    lines = (FIXTURES / "template_listings.csv").read_text().splitlines()
    clean.write_text("\n".join(lines[:4]) + "\n")
    result = runner.invoke(args=["import-csv", str(clean)])
    assert result.exit_code == 0, result.output
    assert "created 2" in result.output


def test_import_networks(runner, session):
    result = runner.invoke(args=["import-networks", str(FIXTURES / "networks.csv")])
    assert result.exit_code == 1
    assert "line 5: Green Circle / Green Circle Gold: plan_type" in result.output
    assert session.execute(select(func.count()).select_from(Network)).scalar_one() == 3


def test_import_nppes_rejects_a_file_that_is_not_nppes(runner):
    result = runner.invoke(args=["import-nppes", str(FIXTURES / "networks.csv")])
    assert result.exit_code == 1
    assert "not an NPPES data file" in result.output


def test_exports(tmp_path, runner, factory):
    factory.listing(zips=["02115", "10001"])
    factory.listing(kind="practitioner", name="Ada Lovelace, MD")
    csv_path, jsonl_path = tmp_path / "out.csv", tmp_path / "out.jsonl"
    assert runner.invoke(args=["export-csv", str(csv_path)]).output == f"exported 2 listings to {csv_path}\n"
    assert len(csv_path.read_text().splitlines()) == 4  # header + 3 locations
    assert runner.invoke(args=["export-jsonl", str(jsonl_path)]).exit_code == 0
    records = [json.loads(line)["listing"] for line in jsonl_path.read_text().splitlines()]
    assert [len(r["locations"]) for r in records] == [2, 1]


def test_import_nppes_twice_then_index_matches(app, tmp_path, runner):
    from tests.importers.test_nppes import ROWS, nppes_file

    path = tmp_path / "npidata_pfile.csv"
    path.write_text(nppes_file(ROWS, 329).getvalue())
    first = runner.invoke(args=["import-nppes", str(path)])
    assert first.exit_code == 0, first.output
    assert "created 6, updated 0, unchanged 0, deactivated 0, skipped 1, rejected 0" in first.output
    second = runner.invoke(args=["import-nppes", str(path)])
    assert "created 0, updated 0, unchanged 6" in second.output
    assert check_index(get_engine(app), get_searcher(app)).ok


def test_dry_run_lists_per_field_how_many_listings_would_change(tmp_path, runner, factory):
    first = factory.listing(telehealth=True, accepting_new_patients=True)
    second = factory.listing(name="Capitol Infusion", telehealth=True)
    path = tmp_path / "short.csv"
    path.write_text("npi,kind,name,specialties,address,zip,telehealth\n"
                    f"{first.npi},organization,Fenway Infusion Center,261QI0500X,1 Main St,02115,no\n"
                    f"{second.npi},organization,Capitol Infusion Center,261QI0500X,1 Main St,02115,no\n")
    result = runner.invoke(args=["import-csv", "--dry-run", str(path)])
    assert result.exit_code == 0, result.output
    assert "would have created 0, updated 2" in result.output
    assert "fields that would change:\n  telehealth: 2 listings\n  name: 1 listing\n" in result.output


def test_export_jsonl_then_import_jsonl_dry_run_and_real(tmp_path, runner, factory, session):
    factory.listing(networks=[factory.network().id])
    factory.listing(kind="practitioner", name="Ada Lovelace, MD")
    path = tmp_path / "all.jsonl"
    assert runner.invoke(args=["export-jsonl", str(path)]).exit_code == 0
    dry = runner.invoke(args=["import-jsonl", "--dry-run", str(path)])
    assert dry.exit_code == 0 and "would have created 0, updated 0, unchanged 3" in dry.output
    session.execute(Listing.__table__.delete())
    session.commit()
    dry = runner.invoke(args=["import-jsonl", "--dry-run", str(path)])
    assert "would have created 2, updated 0, unchanged 1" in dry.output, dry.output
    assert listings(session) == 0
    real = runner.invoke(args=["import-jsonl", str(path)])
    assert real.exit_code == 0 and "created 2, updated 0, unchanged 1" in real.output, real.output
    assert listings(session) == 2
