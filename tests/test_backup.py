"""Backups (issue 12): a consistent SQLite copy while the service writes; pg_dump / pg_restore on
PostgreSQL restores a directory that answers the benchmark mix the same."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session

from directory import create_app, demo
from directory.backup import backup, libpq_url
from directory.db import get_engine
from directory.npi import make_npi
from directory.services.listings import ListingInput, LocationInput, create_listing
from tests.backends import close_app, make_app
from tests.test_roundtrip import TODAY, answers, reindex


def write_listings(engine, stop: threading.Event, written: list[int]) -> None:
    """Create listings through the service, one transaction each, until told to stop."""
    serial = 0
    while not stop.is_set() and serial < 2000:
        serial += 1
        with Session(engine) as session:
            data = ListingInput(kind="organization", npi=make_npi(80000 + serial, individual=False),
                                name=f"Clinic {serial}", specialties=["261QI0500X"],
                                locations=[LocationInput(address=f"{serial} Main St", zip="02115")])
            create_listing(session, data, actor="writer")
            session.commit()
        written.append(serial)


def test_sqlite_backup_while_the_service_writes_is_a_consistent_copy(app, tmp_path, runner):
    engine = get_engine(app)
    demo.generate(engine, count=300, seed=4, today=TODAY)
    stop, written = threading.Event(), []
    writer = threading.Thread(target=write_listings, args=(engine, stop, written))
    writer.start()
    try:
        while len(written) < 20:  # the writer is busy
            stop.wait(0.01)
        copies = [tmp_path / f"copy{i}.sqlite3" for i in range(3)]
        for copy in copies[:2]:
            backup(engine, copy)
        result = runner.invoke(args=["backup", str(copies[2])])
        assert result.exit_code == 0 and "backed up the database" in result.output
    finally:
        stop.set()
        writer.join()
    assert len(written) > 20
    for copy in copies:
        with sqlite3.connect(copy) as conn:
            assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
            listings = conn.execute("select count(*) from listing where source = 'staff'").fetchone()[0]
            # Each listing was written with its location, audit entry and index change in one
            # transaction: a consistent copy has all of them or none.
            assert conn.execute("select count(*) from auditentry where actor = 'writer'").fetchone()[0] == listings
            assert conn.execute("select count(*) from location join listing on listing.id = location.listing_id "
                                "where listing.source = 'staff'").fetchone()[0] == listings
            assert conn.execute("select count(*) from listing where is_demo").fetchone()[0] == 300
        conn.close()


def test_backup_on_postgresql_says_to_use_pg_dump(tmp_path, postgres_server):
    app = make_app("postgres", tmp_path, postgres_server)
    try:
        result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "copy")])
        assert result.exit_code == 1 and "pg_dump -Fc" in result.output
    finally:
        close_app(app)


@pytest.mark.skipif(shutil.which("pg_dump") is None or shutil.which("pg_restore") is None,
                    reason="pg_dump and pg_restore are not installed (Debian: postgresql-client-15)")
def test_pg_dump_and_pg_restore_give_a_directory_that_answers_the_same(tmp_path, postgres_server):
    source = make_app("postgres", tmp_path, postgres_server)
    demo.generate(get_engine(source), count=300, seed=4, today=TODAY)
    reindex(source)
    dump = tmp_path / "directory.dump"
    subprocess.run(["pg_dump", "-Fc", "-d", libpq_url(get_engine(source)), "-f", str(dump)], check=True)
    name = f"ivig_restore_{postgres_server.run}"
    with postgres_server.admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    postgres_server.made.append(name)
    url = f"{postgres_server.base_url}/{name}"
    subprocess.run(["pg_restore", "--no-owner", "-d", libpq_url(create_engine(url)), str(dump)], check=True)
    restored = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test-secret",
                           "SEARCH_BACKEND": "postgres", "INDEX_DIR": str(tmp_path / "unused")})
    try:
        assert answers(restored) == answers(source)
    finally:
        close_app(restored)
        close_app(source)
