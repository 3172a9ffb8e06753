"""A corpus of hostile input against every public parameter, page and form and every staff form.

Every answer is a 200/3xx, or a 4xx that says what went wrong (an `{"error": ...}` body, a page
with an error message, a plain-text line); never a 5xx; and a refused request writes nothing (every
table, the audit log included, is the same row for row after it). One app serves the whole corpus;
each case comes from its own client address, so no throttle or rate limit of one case reaches another.
"""

from __future__ import annotations

import io
import itertools
import re

import pytest
from sqlalchemy import select
from sqlmodel import Session, SQLModel

from directory.db import get_engine
from directory.services import roles as role_service
from directory.services.unit_of_work import unit_of_work
from tests.backends import close_app, make_app
from tests.factories import Factory
from tests.web.hostile_corpus import CASES, PARAMS, Upload, listing_form
from tests.web.test_staff_auth import PASSWORD, make_staff

# --- the app the corpus runs against ---------------------------------------------------------------

@pytest.fixture(scope="module")
def sqlite_world(tmp_path_factory):
    yield from make_world(make_app("whoosh", tmp_path_factory.mktemp("hostile"), MAP_TILE_URL=""))


@pytest.fixture(scope="module")
def postgres_world(tmp_path_factory, postgres_server):
    yield from make_world(make_app("postgres", tmp_path_factory.mktemp("hostile"), postgres_server, MAP_TILE_URL=""))


def make_world(app):
    """Listings (one deactivated, a practitioner with a role), an admin and an editor."""
    with Session(get_engine(app), expire_on_commit=False) as session:
        make = Factory(app, session)
        network = make.network()
        org = make.listing(name="Fenway Infusion Center", networks=[network.id])
        prac = make.listing(name="Ada Lovelace", kind="practitioner", zip="02139")
        gone = make.listing(name="Closed Clinic", zip="02169")
        with app.app_context(), unit_of_work("test", session=session) as work:
            from directory.services.listings import set_active

            set_active(work.session, gone.id, False, actor="test")
            loc = org_location(work.session, org.id)
            role = role_service.add_role(work.session, practitioner_id=prac.id, location_id=loc, actor="test")
        admin = make_staff(session)
        other = make_staff(session, email="editor@example.org", role="editor")
        ids = {"org": org.id, "prac": prac.id, "gone": gone.id, "npi": org.npi, "loc": loc,
               "ploc": org_location(session, prac.id), "role": role.id, "admin": admin.id, "staff": other.id}
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/staff/login").get_data(as_text=True))
    signed = client.post("/staff/login", data={"csrf_token": token.group(1), "email": "admin@example.org",
                                               "password": PASSWORD})
    assert signed.status_code == 303
    ids["session"] = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    yield app, ids
    close_app(app)


def org_location(session, listing_id: int) -> int:
    from directory.models import Location

    return session.execute(select(Location.id).where(Location.listing_id == listing_id)).scalars().first()


def rows(app) -> dict[str, list]:
    """Every row of every table: what a refused request must leave as it was."""
    with get_engine(app).connect() as conn:
        return {name: sorted(map(tuple, conn.execute(table.select()).all()), key=repr)
                for name, table in SQLModel.metadata.tables.items()}


def current(app, ids: dict) -> dict:
    from directory.models import Listing

    with Session(get_engine(app)) as session:
        version = session.get(Listing, ids["org"]).version
    return {**ids, "version": str(version), "stale": str(version - 1)}


def filled(value, values: dict):
    if isinstance(value, tuple) and isinstance(value[0], Upload):
        return (io.BytesIO(value[0].content), value[1])
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), value)
    if isinstance(value, dict):
        return {k: filled(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [filled(v, values) for v in value]
    if isinstance(value, tuple):
        return tuple(filled(v, values) for v in value)
    return value


_addresses = itertools.count(1)


def explains(response) -> bool:
    """A 4xx that says what is wrong: a JSON error, a page with an error message, or a line of text."""
    body = response.get_data(as_text=True)
    if response.mimetype == "application/json":
        error = (response.get_json(silent=True) or {}).get("error") or {}
        return bool(error.get("code") and error.get("message"))
    if response.mimetype == "text/html":
        return any(mark in body for mark in ('class="error"', "flash-error", 'role="alert"', "<h1>"))
    return response.mimetype == "text/plain" and ": " in body


@pytest.mark.parametrize("backend, case", PARAMS)
def test_hostile_input_is_answered_plainly_and_writes_nothing_when_refused(request, backend, case):
    app, ids = request.getfixturevalue(f"{backend}_world")
    address = f"10.{next(_addresses) // 250 % 250}.{next(_addresses) % 250}.{case.id.__hash__() % 250}"
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if case.staff:  # the admin's session, signed in once (scrypt is slow on purpose)
        client.set_cookie(app.config["SESSION_COOKIE_NAME"], ids["session"])
    values = current(app, ids)
    url, data = filled(case.url, values), filled(case.data, values)
    if case.csrf is not None and isinstance(data, dict | list) and case.method == "POST":
        token = case.csrf
        if token == "valid":
            page = "/staff/" if case.staff else f"/providers/{ids['org']}"
            if url == "/staff/login":
                page = "/staff/login"
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).get_data(as_text=True)).group(1)
        data = [*data, ("csrf_token", token)] if isinstance(data, list) else {**data, "csrf_token": token}
    if isinstance(data, list):
        data = _multidict(data)
    before = rows(app)
    response = client.open(url, method=case.method, data=data, content_type=case.content_type, headers=case.headers)
    assert response.status_code < 500, response.get_data(as_text=True)[:2000]
    if case.staff:  # still signed in: a redirect to the sign-in page would pass unseen
        assert "/staff/login" not in response.headers.get("Location", ""), "the admin's session ended"
    if response.status_code >= 400:
        assert explains(response), (response.status_code, response.get_data(as_text=True)[:2000])
        after = rows(app)
        if url == "/staff/login":  # a failed sign-in is stored, by design, to throttle the next ones
            before.pop("loginattempt", None), after.pop("loginattempt", None)
        assert after == before, [name for name in before if before[name] != after.get(name)]
    stored = [(name, row) for name, table in rows(app).items() for row in table
              if any(isinstance(value, str) and "\x00" in value for value in row)]
    assert not stored, stored  # PostgreSQL cannot store NUL in text: it would be a 500 there


def _multidict(pairs):
    from werkzeug.datastructures import MultiDict

    return MultiDict(pairs)


def test_the_corpus_is_large_and_covers_every_form():
    assert len(CASES) >= 150
    assert len({case.id for case in CASES}) == len(CASES)
    urls = {case.url.split("?")[0] for case in CASES}
    for form in ("/providers/{org}/report", "/staff/login", "/staff/listings/{org}/edit", "/staff/listings/new",
                 "/staff/listings/{prac}/roles", "/staff/verification/{org}", "/staff/accounts", "/staff/password",
                 "/staff/accounts/{staff}/password", "/staff/imports", "/staff/accounts/{staff}/active"):
        assert form in urls, form


# --- what the corpus found -------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_a_nul_character_in_any_field_is_a_400_naming_it(request, tmp_path, backend):
    """On PostgreSQL a NUL in the sign-in email was a 500 (the driver refuses NUL in any string)."""
    server = request.getfixturevalue("postgres_server") if backend == "postgres" else None
    app = make_app(backend, tmp_path, server)
    try:
        client = app.test_client()
        response = client.get("/staff/login?next=%00")
        assert response.status_code == 400 and "contains a NUL character" in response.get_data(as_text=True)
        assert client.get("/api/v1/search?q=a%00b").status_code == 200  # searches drop control characters
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/staff/login").get_data(as_text=True))
        response = client.post("/staff/login", data={"csrf_token": token.group(1), "email": "a\x00b@example.org",
                                                      "password": "x"})
        assert response.status_code == 400 and "contains a NUL character" in response.get_data(as_text=True)
        assert rows(app)["loginattempt"] == []
        assert client.get("/staff/listings/?q=%00").status_code == 400
    finally:
        close_app(app)


def test_a_staff_form_refuses_text_longer_than_a_field_takes(sqlite_world):
    """A 10 kB name was a 500 on PostgreSQL (its search index holds words up to 2047 bytes)."""
    app, ids = sqlite_world
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], ids["session"])
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/staff/").get_data(as_text=True)).group(1)
    values = current(app, ids)
    before = rows(app)
    form = filled(listing_form(name="x" * 201, **{"locations.0.address": "y" * 201}), values)
    response = client.post(f"/staff/listings/{ids['org']}/edit", data={**form, "csrf_token": token})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="name-error">at most 200 characters<' in page
    assert 'id="locations.0.address-error">at most 200 characters<' in page
    assert rows(app) == before
