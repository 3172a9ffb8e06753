"""A database whose schema is not this code's is refused with 503 (not a 500 from a missing column
on some pages), and the service recovers by itself once `init-db` has upgraded it.

Found by the load benchmark: code with migration 0009 serving a database at 0008 answered 200 on
the search pages and 500 on the staff edit form (`no such column: location.geocoder`) and the
verification queue (`no such table: geocodetask`)."""

from __future__ import annotations

import logging

import pytest

from directory import create_app, migrate
from directory.cli import init_db
from directory.db import get_engine
from directory.web.schema_guard import mismatch


@pytest.fixture
def behind(tmp_path):
    """An app over a SQLite database migrated only to 0008, with one listing in it."""
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                      "INDEX_DIR": str(tmp_path / "index"), "WTF_CSRF_ENABLED": False})
    with app.app_context():
        migrate.upgrade(get_engine(), "0008")
    return app


PAGES = ["/healthz", "/api/v1/search?zip=02115", "/", "/providers/1", "/staff/verification",
         "/staff/listings/1/edit", "/fhir/metadata"]


@pytest.mark.parametrize("path", PAGES)
def test_a_database_behind_the_code_answers_503_everywhere(behind, path):
    response = behind.test_client().get(path)
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.headers["Retry-After"] == "60"
    body = response.get_data(as_text=True)
    assert "0008" not in body and "init-db" not in body  # operators read the log, visitors a plain message
    if path.startswith(("/api/", "/healthz")):
        assert response.json["error"]["code"] == "service_unavailable"


def test_static_files_are_still_served(behind):
    response = behind.test_client().get("/static/css/site.css")
    response.close()
    assert response.status_code == 200


def test_the_log_says_once_what_to_run_and_the_service_recovers_after_init_db(behind, caplog):
    client = behind.test_client()
    with caplog.at_level(logging.ERROR, logger=behind.logger.name):
        for _ in range(3):
            assert client.get("/healthz").status_code == 503
    lines = [r.getMessage() for r in caplog.records if "Refusing requests" in r.getMessage()]
    assert len(lines) == 1, lines
    assert f"revision 0008 but this code needs {migrate.head_revision()}" in lines[0]
    assert "flask --app wsgi init-db" in lines[0]

    with behind.app_context():
        init_db()
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/v1/search?zip=02115").status_code == 200


def test_mismatch_names_each_case():
    head = migrate.head_revision()
    assert mismatch(head, head) is None
    assert "no schema yet" in mismatch(None, head)
    assert "at revision 0001" in mismatch("0001", head)
