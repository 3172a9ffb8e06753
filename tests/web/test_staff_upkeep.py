"""Staff upkeep pages: the verification queue, the audit trail and its CSV, imports, migration 0004."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import inspect, select
from sqlmodel import Session
from werkzeug.test import EnvironBuilder

from directory import migrate
from directory.db import make_engine
from directory.importers.template import TEMPLATE_HEADER
from directory.models import AuditEntry, Listing, ProblemReport
from directory.services import verification
from tests.web.test_html_valid import assert_valid_html5
from tests.web.test_providers import parse
from tests.web.test_staff_auth import csrf_token, make_staff, sign_in, text

FIXTURE = Path(__file__).parent.parent / "fixtures" / "template_listings.csv"


def signed_in_as(client, session, role: str) -> str:
    email = f"{role}@example.org"
    make_staff(session, email=email, role=role)
    assert sign_in(client, email=email).status_code == 303
    return email


def verified_on(factory, listing: Listing, on: date) -> Listing:
    verification.verify_listing(factory.session, listing.id, by="test", method="phone", changed=False, on=on)
    factory.session.commit()
    factory.sync()
    return listing


def verify_form(client, listing: Listing, *, changed: bool = False, method: str = "phone", **extra) -> dict:
    return {"csrf_token": csrf_token(client, "/staff/"), "version": str(listing.version),
            "changed": "1" if changed else "0", "method": method, **extra}


def search_stale(client, listing_id: int) -> list[bool]:
    results = client.get("/api/v1/search", query_string={"zip": "02115"}).get_json()["results"]
    return [r["stale"] for r in results if r["id"] == listing_id]


def upload(client, content: bytes, *, kind: str = "template", dry_run: bool = True, name: str = "listings.csv"):
    data = {"csrf_token": csrf_token(client, "/staff/imports"), "kind": kind,
            "file": (io.BytesIO(content), name)}
    if dry_run:
        data["dry_run"] = "1"
    return client.post("/staff/imports", data=data, content_type="multipart/form-data")


# --- roles -------------------------------------------------------------------------------------

def test_anonymous_users_are_sent_to_sign_in(client):
    for url in ("/staff/verification", "/staff/audit", "/staff/audit.csv", "/staff/imports",
                "/staff/imports/template.csv"):
        response = client.get(url)
        assert response.status_code == 302 and response.location.startswith("/staff/login"), url


def test_editor_may_read_the_audit_but_not_verify_or_import(client, session, factory):
    listing = factory.listing()
    signed_in_as(client, session, "editor")
    assert client.get("/staff/audit").status_code == 200
    assert client.get("/staff/verification").status_code == 403
    token = csrf_token(client, "/staff/")
    response = client.post(f"/staff/verification/{listing.id}",
                           data={"csrf_token": token, "version": listing.version, "method": "phone"})
    assert response.status_code == 403
    assert client.get("/staff/imports").status_code == 403
    assert client.get("/staff/imports/template.csv").status_code == 403
    response = client.post("/staff/imports", data={"csrf_token": token, "kind": "template",
                                                   "file": (io.BytesIO(b"npi\n"), "x.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 403
    session.expire_all()
    assert session.get(Listing, listing.id).last_verified is None


def test_verifier_may_not_import(client, session):
    signed_in_as(client, session, "verifier")
    assert client.get("/staff/imports").status_code == 403
    assert client.get("/staff/audit").status_code == 200


# --- the verification queue --------------------------------------------------------------------

def test_one_click_verification_updates_the_listing_audit_queue_and_api(client, session, factory):
    listing = factory.listing(name="Fenway Infusion Center")
    fresh = verified_on(factory, factory.listing(name="Back Bay Infusion", zip="02116"), date.today())
    email = signed_in_as(client, session, "verifier")
    page = client.get("/staff/verification")
    assert page.status_code == 200
    assert f'id="queue-{listing.id}"' in text(page) and f'id="queue-{fresh.id}"' not in text(page)
    assert f'href="/providers/{listing.id}"' in text(page)
    assert 'id="count-never">1<' in text(page) and 'id="count-verified">1<' in text(page)
    assert search_stale(client, listing.id) == [True]

    response = client.post(f"/staff/verification/{listing.id}?x=1",
                           data=verify_form(client, listing, method="email", state="MA",
                                            kind="organization"))
    assert response.status_code == 303
    assert response.location == "/staff/verification?state=MA&kind=organization"
    session.expire_all()
    stored = session.get(Listing, listing.id)
    assert (stored.last_verified, stored.verified_by, stored.verification_method) == (date.today(), email, "email")
    entry = session.execute(select(AuditEntry).where(AuditEntry.listing_id == listing.id,
                                                     AuditEntry.action.startswith("verify"))).scalar_one()
    assert (entry.actor, entry.action) == (email, "verify.no_change")
    page = client.get(response.location)
    assert "Fenway Infusion Center verified" in text(page)
    assert f'id="queue-{listing.id}"' not in text(page)
    assert search_stale(client, listing.id) == [False]
    detail = client.get(f"/api/v1/providers/{listing.id}").get_json()["verification"]
    assert (detail["last_verified"], detail["method"]) == (date.today().isoformat(), "email")


def test_verified_with_changes_and_a_stale_version(client, session, factory):
    listing = factory.listing()
    signed_in_as(client, session, "admin")
    form = verify_form(client, listing, changed=True, method="attestation")
    stale = dict(form, version=str(listing.version - 1))
    response = client.post(f"/staff/verification/{listing.id}", data=stale)
    assert response.status_code == 409 and "changed by someone else" in text(response)
    session.expire_all()
    assert session.get(Listing, listing.id).last_verified is None
    assert client.post(f"/staff/verification/{listing.id}", data=form).status_code == 303
    session.expire_all()
    assert session.get(Listing, listing.id).verification_method == "attestation"
    assert session.execute(select(AuditEntry.action).where(AuditEntry.listing_id == listing.id)
                           .order_by(AuditEntry.id.desc())).scalars().first() == "verify.changed"
    bad = dict(form, method="carrier pigeon", version=str(listing.version + 1))
    response = client.post(f"/staff/verification/{listing.id}", data=bad)
    assert response.status_code == 303 and "method must be one of" in text(client.get(response.location))
    token = csrf_token(client, "/staff/")
    assert client.post("/staff/verification/999999", data=dict(form, csrf_token=token)).status_code == 404


def test_queue_filters_by_state_and_kind(client, session, factory):
    boston = factory.listing(name="Boston Infusion")
    nyc = factory.listing(name="Manhattan Infusion", zip="10001")
    doctor = factory.listing(kind="practitioner", name="Ada Lovelace, MD")
    signed_in_as(client, session, "verifier")
    page = text(client.get("/staff/verification", query_string={"state": "ny"}))
    assert f'id="queue-{nyc.id}"' in page and f'id="queue-{boston.id}"' not in page
    page = text(client.get("/staff/verification", query_string={"kind": "practitioner"}))
    assert f'id="queue-{doctor.id}"' in page and f'id="queue-{boston.id}"' not in page
    assert 'value="practitioner" selected' in page


def test_a_public_report_shows_in_the_queue_and_verification_resolves_it(client, session, factory):
    listing = verified_on(factory, factory.listing(), date.today() - timedelta(days=3))
    page = client.get(f"/providers/{listing.id}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', text(page)).group(1)
    response = client.post(f"/providers/{listing.id}/report",
                           data={"csrf_token": token, "problem": "wrong_phone",
                                 "details": "The number is out of service."})
    assert response.status_code == 303
    signed_in_as(client, session, "verifier")
    page = text(client.get("/staff/verification"))
    row = page[page.index(f'id="queue-{listing.id}"'):]
    row = row[:row.index("</tr>")]
    assert "Open reports" in row and "<td>1</td>" in row
    assert 'id="count-reports">1<' in page
    session.expire_all()
    listing = session.get(Listing, listing.id)
    assert client.post(f"/staff/verification/{listing.id}", data=verify_form(client, listing)).status_code == 303
    session.expire_all()
    report = session.execute(select(ProblemReport).where(ProblemReport.listing_id == listing.id)).scalar_one()
    assert (report.status, report.resolved_by) == ("resolved", "verifier@example.org")
    assert f'id="queue-{listing.id}"' not in text(client.get("/staff/verification"))


# --- the audit trail ---------------------------------------------------------------------------

def test_audit_page_filters_and_downloads_csv(client, session, factory):
    first = factory.listing(name="First Infusion")
    second = factory.listing(name="Second Infusion", zip="02116")
    signed_in_as(client, session, "admin")
    client.post(f"/staff/verification/{first.id}", data=verify_form(client, first))
    page = text(client.get("/staff/audit", query_string={"listing_id": first.id}))
    assert "verify.no_change" in page and "listing.create" in page or "verify.no_change" in page
    assert f'>{second.id}</a>' not in page and f'>{first.id}</a>' in page
    page = text(client.get("/staff/audit", query_string={"action": "verify"}))
    assert "verify.no_change" in page and f'>{second.id}</a>' not in page
    page = text(client.get("/staff/audit", query_string={"actor": "nobody@example.org"}))
    assert 'id="audit-empty"' in page
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    assert 'id="audit-empty"' in text(client.get("/staff/audit", query_string={"since": tomorrow}))
    assert 'id="audit-empty"' not in text(client.get("/staff/audit", query_string={"until": tomorrow}))
    bad = client.get("/staff/audit", query_string={"since": "yesterday", "listing_id": "x"})
    assert bad.status_code == 400 and 'id="audit-since-error"' in text(bad)

    response = client.get("/staff/audit.csv", query_string={"listing_id": first.id, "action": "verify"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(text(response))))
    assert rows and {r["listing_id"] for r in rows} == {str(first.id)}
    assert {r["action"] for r in rows} == {"verify.no_change"}
    assert "last_verified" in {r["field"] for r in rows}
    assert client.get("/staff/audit.csv", query_string={"until": "soon"}).status_code == 400


# --- imports -----------------------------------------------------------------------------------

def test_template_download_has_the_header(client, session):
    signed_in_as(client, session, "admin")
    response = client.get("/staff/imports/template.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert next(csv.reader(io.StringIO(text(response)))) == list(TEMPLATE_HEADER)
    assert len(text(response).splitlines()) == 1


def test_import_page_defaults_to_a_dry_run(client, session):
    signed_in_as(client, session, "admin")
    page = text(client.get("/staff/imports"))
    assert 'id="import-dry-run" name="dry_run" type="checkbox" value="1" checked' in page
    assert '<label for="import-file">' in page and '<label for="import-kind">' in page


def test_dry_run_writes_nothing_and_shows_would_create(client, session):
    signed_in_as(client, session, "admin")
    response = upload(client, FIXTURE.read_bytes())
    assert response.status_code == 200
    page = text(response)
    assert "nothing was written" in page and "Would create" in page
    created = int(re.search(r'id="report-created">(\d+)<', page).group(1))
    assert created > 0
    assert session.execute(select(Listing)).first() is None


def test_real_import_is_searchable_at_once_and_rejections_show_line_numbers(client, session):
    signed_in_as(client, session, "admin")
    response = upload(client, FIXTURE.read_bytes(), dry_run=False)
    assert response.status_code == 200
    page = text(response)
    assert "Imported listings.csv" in page
    assert int(re.search(r'id="report-created">(\d+)<', page).group(1)) > 0
    rejections = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", page)
    assert rejections and ("5", "2000700016") in {(line, key) for line, key, _ in rejections}
    session.expire_all()
    fenway = session.execute(select(Listing).where(Listing.npi == "2000700015")).scalar_one()
    results = client.get("/api/v1/search", query_string={"zip": "02115", "q": "Fenway"}).get_json()["results"]
    assert fenway.id in [r["id"] for r in results]
    assert fenway.id in [r["id"] for r in client.get("/api/v1/search", query_string={"zip": "02115"})
                         .get_json()["results"]]


def test_unreadable_uploads_are_reported(client, session):
    signed_in_as(client, session, "admin")
    response = upload(client, b"npi,kind\n\xff\xfe,organization\n")
    assert response.status_code == 400 and "not UTF-8" in text(response)
    response = upload(client, b"this,is,not,nppes\n1,2,3,4\n", kind="nppes")
    assert response.status_code == 400 and "could not be read" in text(response)


def test_oversized_upload_is_refused_with_413(client, session):
    signed_in_as(client, session, "admin")
    data = {"csrf_token": csrf_token(client, "/staff/imports"), "kind": "template", "dry_run": "1",
            "file": (io.BytesIO(b"x" * (5 * 1024 * 1024 + 1)), "big.csv")}
    builder = EnvironBuilder(path="/staff/imports", method="POST", data=data)
    environ = builder.get_environ()  # the body is spooled to a temporary file: close it after
    try:
        response = client.open(environ)
    finally:
        environ["wsgi.input"].close()
        builder.close()
    assert response.status_code == 413
    assert "at most 5 MB" in text(response)


# --- schema and markup -------------------------------------------------------------------------

def test_migration_0004_creates_the_indexes(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    try:
        migrate.upgrade(engine)
        inspector = inspect(engine)
        listing = {i["name"]: i["column_names"] for i in inspector.get_indexes("listing")}
        reports = {i["name"]: i["column_names"] for i in inspector.get_indexes("problemreport")}
        assert listing["ix_listing_last_verified"] == ["last_verified", "id"]
        assert reports["ix_problemreport_listing_status"] == ["listing_id", "status"]
        with Session(engine):
            pass
    finally:
        engine.dispose()


def test_every_form_control_has_a_label_and_a_csrf_token(client, session, factory):
    factory.listing()
    signed_in_as(client, session, "admin")
    for url in ("/staff/verification", "/staff/audit", "/staff/imports"):
        page = text(client.get(url))
        for control_id in re.findall(r'<(?:input|select)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', page):
            assert f'for="{control_id}"' in page, (url, control_id)
        for form in re.findall(r'<form[^>]*method="post".*?</form>', page, re.S):
            assert 'name="csrf_token"' in form, url


def test_upkeep_pages_are_valid_html5(client, session, factory, tmp_path):
    listing = factory.listing()
    factory.listing(name="Back Bay Infusion", zip="02116")
    signed_in_as(client, session, "admin")
    pages = {"queue": client.get("/staff/verification"),
             "queue-empty": client.get("/staff/verification", query_string={"state": "ZZ"})}
    client.post(f"/staff/verification/{listing.id}", data=verify_form(client, listing))
    pages["conflict"] = client.post(f"/staff/verification/{listing.id}", data=verify_form(client, listing))
    pages["audit"] = client.get("/staff/audit")
    pages["audit-errors"] = client.get("/staff/audit", query_string={"since": "x"})
    pages["imports"] = client.get("/staff/imports")
    pages["import-report"] = upload(client, FIXTURE.read_bytes())
    pages["import-error"] = upload(client, b"\xff\xfe")
    assert pages["conflict"].status_code == 409
    assert_valid_html5(pages, tmp_path, check=parse)
