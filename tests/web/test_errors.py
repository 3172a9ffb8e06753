"""Error responses across the app: ids that are not listings, 405's Allow header, the body limit."""

from __future__ import annotations

import io
import re

import pytest
from werkzeug.test import EnvironBuilder

from directory import create_app
from directory.config import DEFAULT_MAX_CONTENT_LENGTH
from directory.importers.template import TEMPLATE_HEADER
from directory.web import MAX_ID, digits_at_most
from tests.web.test_api import assert_error
from tests.web.test_staff_auth import csrf_token, make_staff, sign_in, text

HUGE = 6091027775321257541632  # beyond any database integer (and beyond MAX_ID, the ids our columns hold)
EDGES = (HUGE, 2**63, 2**63 - 1, 2**31, 999_999)


def signed_in(client, session) -> None:
    make_staff(session)
    assert sign_in(client).status_code == 303


# --- ids that are not stored rows: 404, never 500 ----------------------------------------------------

@pytest.mark.parametrize("lid", EDGES)
def test_an_id_that_is_no_listing_is_a_json_404(client, lid):
    assert_error(client.get(f"/api/v1/providers/{lid}"), 404, None if lid > MAX_ID else "id")


@pytest.mark.parametrize("lid", EDGES)
def test_an_id_that_is_no_listing_is_a_404_page(client, lid):
    response = client.get(f"/providers/{lid}")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "We could not find that page or listing" in text(response)


@pytest.mark.parametrize("lid", EDGES)
def test_a_report_on_an_id_that_is_no_listing_is_404(client, factory, lid):
    listing = factory.listing()
    page = client.get(f"/providers/{listing.id}").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post(f"/providers/{lid}/report",
                           data={"csrf_token": token, "problem": "wrong_phone", "details": "Rings a pizza shop."})
    assert response.status_code == 404


STAFF_GETS = ["/staff/listings/{id}/edit", "/staff/listings/{id}/roles", "/staff/accounts/{id}/password"]
STAFF_POSTS = ["/staff/listings/{id}/edit", "/staff/listings/{id}/deactivate", "/staff/listings/{id}/restore",
               "/staff/listings/{id}/roles", "/staff/listings/1/roles/{id}/remove",
               "/staff/listings/{id}/roles/1/remove", "/staff/verification/{id}",
               "/staff/accounts/{id}/active", "/staff/accounts/{id}/password"]


@pytest.mark.parametrize("lid", (HUGE, 2**63))
def test_staff_routes_answer_404_for_an_id_beyond_the_database(client, session, factory, lid):
    factory.listing()
    signed_in(client, session)
    for url in STAFF_GETS:
        assert client.get(url.format(id=lid)).status_code == 404, url
    token = csrf_token(client, "/staff/")
    for url in STAFF_POSTS:
        response = client.post(url.format(id=lid), data={"csrf_token": token, "version": "1", "method": "phone"})
        assert response.status_code == 404, url


@pytest.mark.parametrize("limit", [0, 1, 9, 10, 99, 100, 123, 2024, 9999])
def test_the_id_pattern_matches_exactly_the_numbers_up_to_its_limit(limit):
    pattern = re.compile(digits_at_most(limit))
    assert [n for n in range(12_000) if pattern.fullmatch(str(n))] == list(range(limit + 1))
    assert pattern.fullmatch(f"00{limit}") and not pattern.fullmatch(f"-{limit}")
    assert not pattern.fullmatch("\u0661") and not pattern.fullmatch("\uff11")  # Arabic-Indic and fullwidth 1


@pytest.mark.parametrize("url", ["/providers/{}", "/api/v1/providers/{}"])
def test_an_id_in_other_digits_than_ascii_is_no_listing(client, factory, url):
    listing = factory.listing()
    assert listing.id == 1
    assert client.get(url.format(1)).status_code == 200
    for digit in ("\u0661", "\uff11", "\u00b9"):  # Arabic-Indic, fullwidth, superscript 1
        assert client.get(url.format(digit)).status_code == 404, digit


@pytest.mark.parametrize("limit", (MAX_ID, 2**63 - 1, 2026, 70_000))
def test_the_id_pattern_stops_at_large_limits(limit):
    pattern = re.compile(digits_at_most(limit))
    digits = len(str(limit))
    around = {limit - 1, limit, limit + 1, 10**digits - 1, 10**digits, 10 ** (digits - 1), 0, 1}
    around |= {int(str(limit)[:i] + "9" * (digits - i)) for i in range(digits)}
    for n in sorted(around):
        assert bool(pattern.fullmatch(str(n))) == (0 <= n <= limit), n
    assert pattern.fullmatch("000" + str(limit)) and not pattern.fullmatch(str(HUGE))


def test_the_largest_database_integer_still_reaches_the_staff_view(client, session):
    signed_in(client, session)
    response = client.get(f"/staff/listings/{2**63 - 1}/edit")
    assert response.status_code == 404 and "We could not find" in text(response)


# --- 405 says what is allowed (RFC 9110 section 15.5.6) ----------------------------------------------

@pytest.mark.parametrize("method, url, allowed", [
    ("POST", "/api/v1/search", {"GET", "HEAD", "OPTIONS"}),
    ("DELETE", "/api/v1/providers/1", {"GET", "HEAD", "OPTIONS"}),
    ("PUT", "/healthz", {"GET", "HEAD", "OPTIONS"}),
])
def test_a_json_405_carries_allow(client, method, url, allowed):
    response = client.open(url, method=method)
    assert_error(response, 405, None)
    assert set(response.headers["Allow"].split(", ")) == allowed


@pytest.mark.parametrize("method, url, allowed", [
    ("POST", "/", {"GET", "HEAD", "OPTIONS"}),
    ("GET", "/providers/1/report", {"POST", "OPTIONS"}),
    ("DELETE", "/staff/login", {"GET", "HEAD", "POST", "OPTIONS"}),
    ("PUT", "/export.csv", {"GET", "HEAD", "OPTIONS"}),
])
def test_a_405_page_carries_allow(client, method, url, allowed):
    response = client.open(url, method=method)
    assert response.status_code == 405 and response.mimetype == "text/html"
    assert set(response.headers["Allow"].split(", ")) == allowed
    assert "Method Not Allowed" in text(response)


def test_headers_of_other_http_errors_are_kept(app, client):
    from werkzeug.exceptions import TooManyRequests

    @app.get("/api/v1/_busy")
    def _busy():
        raise TooManyRequests(retry_after=120)

    @app.get("/_busy")
    def _busy_page():
        raise TooManyRequests(retry_after=120)

    response = client.get("/api/v1/_busy")
    assert_error(response, 429, None)
    assert response.headers["Retry-After"] == "120"
    response = client.get("/_busy")
    assert response.status_code == 429 and response.mimetype == "text/html"
    assert response.headers["Retry-After"] == "120"


# --- request bodies: at most MAX_CONTENT_LENGTH (1 MB unless configured), the import page 5 MB -------

def post_multipart(client, url: str, data: dict):
    """POST `data` as multipart/form-data (a large body is spooled to a file: closed afterwards)."""
    builder = EnvironBuilder(path=url, method="POST", data=data, content_type="multipart/form-data")
    environ = builder.get_environ()
    try:
        return client.open(environ)
    finally:
        environ["wsgi.input"].close()
        builder.close()


def post_big(client, url: str, size: int, **fields):
    """POST a multipart form with a `size`-byte file."""
    return post_multipart(client, url, {**fields, "file": (io.BytesIO(b"x" * size), "big.bin")})


def test_the_default_body_limit_is_one_megabyte(app):
    assert DEFAULT_MAX_CONTENT_LENGTH == 1024 * 1024
    assert app.config["MAX_CONTENT_LENGTH"] == DEFAULT_MAX_CONTENT_LENGTH


def test_the_body_limit_is_read_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "2048")
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    assert create_app({"TESTING": True}).config["MAX_CONTENT_LENGTH"] == 2048


def test_a_report_larger_than_the_limit_is_a_413_page(client, factory):
    listing = factory.listing()
    response = post_big(client, f"/providers/{listing.id}/report", DEFAULT_MAX_CONTENT_LENGTH + 1)
    assert response.status_code == 413 and response.mimetype == "text/html"
    assert "at most 1 MB" in text(response)


def test_a_form_field_over_the_form_text_limit_is_a_413_page_that_says_so(client, factory, app):
    listing = factory.listing()
    assert app.config["MAX_FORM_MEMORY_SIZE"] < 600_000 < DEFAULT_MAX_CONTENT_LENGTH
    response = post_multipart(client, f"/providers/{listing.id}/report", {"details": "x" * 600_000})
    assert response.status_code == 413 and response.mimetype == "text/html"
    assert "its text may be at most 488 KB" in text(response)


def test_a_staff_form_larger_than_the_limit_is_a_413_page(client, session):
    signed_in(client, session)
    response = post_big(client, "/staff/listings/new", 2 * 1024 * 1024)
    assert response.status_code == 413 and "at most 1 MB" in text(response)


def test_an_api_request_larger_than_the_limit_is_a_json_413(client):
    response = client.get("/api/v1/search", data=b"x" * (DEFAULT_MAX_CONTENT_LENGTH + 1))
    error = assert_error(response, 413, None)
    assert error["code"] == "request_too_large" and "at most 1 MB" in error["message"]


def test_the_import_page_keeps_its_own_five_megabyte_limit(client, session):
    signed_in(client, session)
    token = csrf_token(client, "/staff/imports")
    fields = {"csrf_token": token, "kind": "template", "dry_run": "1"}
    # 3 MB of a readable template file: a header, then blank lines (read and skipped)
    content = (",".join(TEMPLATE_HEADER) + "\n" + "\n" * (3 * 1024 * 1024)).encode()
    accepted = post_multipart(client, "/staff/imports", {**fields, "file": (io.BytesIO(content), "listings.csv")})
    assert accepted.status_code == 200, text(accepted)[:500]
    refused = post_big(client, "/staff/imports", 6 * 1024 * 1024, **fields)
    assert refused.status_code == 413 and "at most 5 MB" in text(refused)


def test_error_pages_are_valid_html5(client, factory, session, tmp_path):
    from directory.services.listings import set_active
    from tests.web.test_html_valid import assert_valid_html5
    from tests.web.test_providers import parse

    gone = factory.listing()
    set_active(session, gone.id, False, actor="test")
    session.commit()
    pages = {"404": client.get(f"/providers/{HUGE}"), "405": client.post("/"),
             "410": client.get(f"/providers/{gone.id}"),
             "413": post_big(client, f"/providers/{gone.id}/report", DEFAULT_MAX_CONTENT_LENGTH + 1)}
    assert [int(code) for code in pages] == [response.status_code for response in pages.values()]
    assert_valid_html5(pages, tmp_path, check=parse)


# Until this test ran on PostgreSQL (it was given "whoosh", which ignores the server), nobody saw
# that an id between 2**31 and MAX_ID is bound as PostgreSQL INTEGER by the read model and fails
# there with NumericValueOutOfRange (a 500); the id columns are 32-bit on PostgreSQL.
# MAX_ID is now 2**31 - 1, the ids those columns hold: larger ids match no route.


@pytest.mark.parametrize("lid", (2**31 - 1, 2**31, 2**63 - 1, 2**63, HUGE))
def test_ids_up_to_the_largest_integer_are_plain_404s_on_postgresql(postgres_server, tmp_path, lid):
    from tests.backends import close_app, make_app

    app = make_app("postgres", tmp_path, postgres_server)  # "whoosh" would have ignored the server
    try:
        client = app.test_client()
        assert client.get(f"/api/v1/providers/{lid}").status_code == 404
        assert client.get(f"/providers/{lid}").status_code == 404
    finally:
        close_app(app)


# --- errors never leak: no traceback, SQL, file path or version in any response ---------------------

LEAKS = ("Traceback", "File \"", "sqlalchemy", "sqlite3", "psycopg", "SELECT ", "no such table", "OperationalError",
         "/work/", "site-packages", ".py\"", ".py,", "Werkzeug", "Python/", "jinja2")


def assert_no_leak(response) -> None:
    shown = response.get_data(as_text=True) + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    assert not [leak for leak in LEAKS if leak in shown], shown[:3000]
    assert "Server" not in response.headers  # the app names no software; gunicorn says only "gunicorn"


@pytest.mark.parametrize("mode", [{"ENV": "production"}, {"ENV": "development"}, {"ENV": "development", "DEBUG": True}],
                         ids=["production", "development", "debug"])
def test_a_real_internal_error_is_a_plain_500_with_an_incident_id(tmp_path, caplog, mode):
    from sqlalchemy import text as sql
    from sqlmodel import Session

    from directory.db import get_engine
    from tests.backends import close_app, make_app
    from tests.factories import Factory

    app = make_app("whoosh", tmp_path, **mode)
    try:
        with Session(get_engine(app), expire_on_commit=False) as session:
            listing = Factory(app, session).listing()
        with get_engine(app).begin() as conn:
            conn.execute(sql("DROP TABLE location"))  # every listing's page now fails in the database
        client = app.test_client()
        incidents = []
        for url in (f"/providers/{listing.id}", f"/api/v1/providers/{listing.id}"):
            with caplog.at_level("ERROR"):
                response = client.get(url)
            assert response.status_code == 500, response.get_data(as_text=True)[:500]
            assert_no_leak(response)
            body = response.get_data(as_text=True)
            incident = re.search(r"incident ([0-9a-f]{12})", body).group(1)
            if url.startswith("/api/"):
                assert response.get_json()["error"]["code"] == "internal_error"
            else:
                assert response.mimetype == "text/html" and "Something went wrong on our side" in body
            logged = [r for r in caplog.records if incident in r.getMessage()]
            assert logged and "no such table: location" in caplog.text  # the detail stays in the log
            incidents.append(incident)
        assert incidents[0] != incidents[1]
    finally:
        close_app(app)


def test_no_response_of_the_app_names_software_or_a_version(client, factory):
    """The app adds no Server header and no version anywhere; the WSGI server in front names itself
    (gunicorn: "gunicorn", no version; Werkzeug's development server: its and Python's versions)."""
    listing = factory.listing()
    responses = [client.get("/"), client.get("/?q=a&page=0"), client.get(f"/providers/{listing.id}"),
                 client.get("/api/v1/search?q=a"), client.get("/api/v1/search?page=0"), client.get("/nowhere"),
                 client.post("/"), client.delete("/api/v1/networks"), client.get("/static/css/site.css"),
                 client.get("/healthz"), client.get("/api/v1/openapi.json"), client.get("/staff/login")]
    assert {r.status_code for r in responses} >= {200, 400, 404, 405}
    for response in responses:
        assert_no_leak(response)
        response.close()  # the static file's
