"""The same schema, migrations, write path and search on PostgreSQL (a throw-away database per test).

Needs a PostgreSQL server: TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test,
trust auth) names one whose user may create databases. Without it these tests are skipped, or fail
when CI is set (see tests/backends.py).
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from directory import create_app, demo
from directory.cli import init_db
from directory.db import get_engine
from directory.migrate import alembic_config
from directory.search import get_searcher, rebuild_index
from directory.search.sync import check_index
from directory.services import accounts
from tests.backends import ADMIN_URL, postgres_unavailable
from tests.factories import Factory
from tests.test_schema import upgrade_with_a_duplicate_role
from tests.throttle_race import EMAIL, failures_at_once


@pytest.fixture
def pg_url():
    try:
        admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            name = f"ivig_test_{uuid.uuid4().hex[:12]}"
            conn.execute(text(f'create database "{name}"'))
    except (OperationalError, ModuleNotFoundError) as error:
        postgres_unavailable(ADMIN_URL, error)
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


def make_app(database_url: str, index_dir) -> object:
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "INDEX_DIR": str(index_dir),
                      "SECRET_KEY": "pg-tests"})
    with app.app_context():
        init_db()
    return app


def close(app) -> None:
    searcher = app.extensions.get("directory.searcher")
    if searcher is not None:
        searcher.close()
    get_engine(app).dispose()


def test_migrations_build_the_schema_with_its_constraints(pg_url, tmp_path):
    app = make_app(pg_url, tmp_path / "index")
    try:
        with get_engine(app).connect() as conn:
            tables = set(conn.execute(text(
                "select table_name from information_schema.tables where table_schema = 'public'"
            )).scalars())
            assert {"listing", "organization", "practitioner", "location", "role", "participation",
                    "network", "specialty", "listingspecialty", "staffuser", "auditentry",
                    "indexchange", "problemreport", "alembic_version"} <= tables
            head = ScriptDirectory.from_config(alembic_config(None)).get_current_head()
            assert conn.execute(text("select version_num from alembic_version")).scalar_one() == head
            with pytest.raises(IntegrityError):
                conn.execute(text("insert into listing (kind, npi, name, active, accepting_new_patients, "
                                  "telehealth, languages, services, source, is_demo, version, created_at, "
                                  "updated_at) values ('hospital', '1234567893', 'x', true, false, false, "
                                  "'[]', '[]', 'staff', false, 1, now(), now())"))
    finally:
        close(app)


def test_migration_0005_audits_each_duplicate_role_it_removes(pg_url):
    engine = create_engine(pg_url)
    try:
        upgrade_with_a_duplicate_role(engine)
    finally:
        engine.dispose()


def test_write_path_and_search_on_postgres(pg_url, tmp_path):
    app = make_app(pg_url, tmp_path / "index")
    try:
        with Session(get_engine(app), expire_on_commit=False) as session:
            factory = Factory(app, session)
            network = factory.network()
            listing = factory.listing(name="Fenway Infusion Center", zip="02115", networks=[network.id])
        body = app.test_client().get(f"/api/v1/search?zip=02115&radius=5&network={network.id}").get_json()
        assert [r["id"] for r in body["results"]] == [listing.id]
        with app.app_context():
            assert check_index(get_engine(app), get_searcher(app)).ok
    finally:
        close(app)


def test_demo_data_then_ordinary_writes(pg_url, tmp_path):
    """Demo rows carry explicit ids; the id sequences must move past them."""
    app = make_app(pg_url, tmp_path / "index")
    try:
        with app.app_context():
            demo.generate(get_engine(app), count=300, seed=3, today=date(2026, 1, 1))
            rebuild_index(app)
        with Session(get_engine(app), expire_on_commit=False) as session:
            listing = Factory(app, session).listing(name="After The Demo Infusion", zip="10016")
        assert listing.id > 300
        found = app.test_client().get("/api/v1/search?q=after+demo&zip=10016&radius=5").get_json()
        assert listing.id in [r["id"] for r in found["results"]]
    finally:
        close(app)


def test_same_results_as_sqlite_for_the_same_data(pg_url, tmp_path):
    apps = [make_app(pg_url, tmp_path / "pg-index"),
            make_app(f"sqlite:///{tmp_path / 'same.sqlite3'}", tmp_path / "sqlite-index")]
    try:
        for app in apps:
            with app.app_context():
                demo.generate(get_engine(app), count=400, seed=5, today=date(2026, 1, 1))
                rebuild_index(app)
        for url in ("/api/v1/search?zip=10016&radius=50&per_page=100",
                    "/api/v1/search?zip=60611&radius=100&specialty=207RR0500X&accepting=true",
                    "/api/v1/search?q=myositis+ivig&zip=02115&radius=200",
                    "/api/v1/search?q=infusion&sort=name&per_page=50"):
            pg, lite = (app.test_client().get(url).get_json() for app in apps)
            assert pg["total"] == lite["total"] > 0, url
            assert [r["id"] for r in pg["results"]] == [r["id"] for r in lite["results"]], url
            assert pg["facets"] == lite["facets"], url
    finally:
        for app in apps:
            close(app)


@pytest.mark.parametrize("across_emails", [False, True])
def test_sign_in_failures_sent_at_once_do_not_pass_the_throttle_together(pg_url, tmp_path, across_emails):
    """On PostgreSQL (READ COMMITTED) too: eight wrong passwords at once from one client with one
    failure left (for one email, or across emails), one is checked and seven are refused."""
    app = make_app(pg_url, tmp_path / "index")
    try:
        with Session(get_engine(app)) as session:
            accounts.create_staff(session, email=EMAIL, role="admin", password="correct horse battery",
                                  actor="test")
            session.commit()
        outcomes, stored = failures_at_once(get_engine(app), across_emails=across_emails)
        assert sorted(outcomes) == ["failed"] + ["throttled"] * 7
        assert stored == (accounts.MAX_CLIENT_FAILURES if across_emails else accounts.MAX_FAILURES)
    finally:
        close(app)


def test_two_staff_adding_the_same_role_at_once_get_one_role_and_a_clear_error(pg_url, tmp_path):
    """The second add passes the service's duplicate check (the first is not committed yet), waits
    on the unique constraint, and gets the same validation error as a plain duplicate; its session
    stays usable."""
    import threading

    from directory.models import Location
    from directory.services.errors import ValidationError
    from directory.services.roles import add_role

    app = make_app(pg_url, tmp_path / "index")
    try:
        engine = get_engine(app)
        with Session(engine) as session:
            factory = Factory(app, session)
            prac = factory.listing(kind="practitioner", name="Ada Lovelace", zip="02115", sync=False)
            org = factory.listing(name="Springfield Infusion", zip="01103", sync=False)
            location_id = session.execute(text("select id from location where listing_id = :o"),
                                          {"o": org.id}).scalar_one()
            prac_id = prac.id
        first = Session(engine)
        add_role(first, practitioner_id=prac_id, location_id=location_id, actor="first")  # not committed
        outcome: dict = {}

        def second() -> None:
            with Session(engine) as session:
                try:
                    add_role(session, practitioner_id=prac_id, location_id=location_id, actor="second")
                    session.commit()
                    outcome["result"] = "added"
                except ValidationError as error:
                    outcome["result"] = error.errors
                    outcome["usable"] = session.get(Location, location_id) is not None
                    session.rollback()

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # waiting on the first one's uncommitted row
        first.commit()
        first.close()
        thread.join(10)
        assert outcome == {"result": {"location_id": "this practitioner already has a role at this location"},
                           "usable": True}
        with Session(engine) as session:
            assert session.execute(text("select count(*) from role")).scalar_one() == 1
    finally:
        close(app)
