"""The listing page (everything about one provider) and its "report a problem" form, end to end."""

from __future__ import annotations

from datetime import date, timedelta
from html.parser import HTMLParser
from itertools import pairwise

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from directory.models import AuditEntry, Listing, Location, Organization, Practitioner, ProblemReport, Role
from directory.services import reports
from directory.services.listings import set_active
from directory.services.verification import verify_listing

THANKS = "Thank you — your report was sent to our staff."
HOURS = {"mon": "08:00-17:00", "tue": "08:00-17:00", "wed": "08:00-17:00", "thu": "08:00-19:00",
         "fri": "08:00-12:00", "sat": None, "sun": None}


class Page(HTMLParser):
    """What a test needs from a page: elements by id, inputs by name, labels, headings, text."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, html: str):
        super().__init__()
        self.ids, self.controls, self.labels, self.headings, self.open = {}, [], set(), [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            assert attrs["id"] not in self.ids, f"duplicate id {attrs['id']}"
            self.ids[attrs["id"]] = (tag, attrs)
        if tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "submit"):
            self.controls.append(attrs)
        if tag == "label" and "for" in attrs:
            self.labels.add(attrs["for"])
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.headings.append(int(tag[1]))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)


def parse(response) -> Page:
    page = Page(response.get_data(as_text=True))
    assert not page.open, f"unclosed {page.open}"
    assert page.headings[0] == 1 and all(b - a <= 1 for a, b in pairwise(page.headings)), page.headings
    for control in page.controls:
        assert control.get("id") in page.labels, f"control without a label: {control}"
    return page


def csrf_token(client, lid: int) -> str:
    html = client.get(f"/providers/{lid}").get_data(as_text=True)
    marker = 'name="csrf_token" value="'
    assert marker in html
    return html.split(marker, 1)[1].split('"', 1)[0]


def count(session, table) -> int:
    session.expire_all()
    return session.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.fixture
def org(factory, session):
    network = factory.network(name="Choice Plus", payer="Acme Health", plan_type="MEDICARE_ADVANTAGE")
    listing = factory.listing(
        name="Back Bay Infusion Suite", specialties=["261QM2500X", "261QI0500X"], networks=[network.id],
        services=["ivig", "prior_authorization"], languages=["en", "es"], ivig_products=["Gamunex-C", "Privigen"],
        accepting_new_patients=True, telehealth=True, primary_specialty="261QI0500X",
    )
    loc = session.execute(select(Location).where(Location.listing_id == listing.id)).scalar_one()
    loc.fax, loc.hours, loc.wheelchair_accessible = "(617) 555-0199", HOURS, True
    detail = session.get(Organization, listing.id)
    detail.chairs, detail.pediatric, detail.prior_auth_help = 12, True, True
    session.get(Listing, listing.id).is_demo = True
    verify_listing(session, listing.id, by="Sam Staff", method="phone", changed=False,
                   on=date.today() - timedelta(days=3))
    session.commit()
    return listing


def test_organization_page_shows_everything(client, org):
    response = client.get(f"/providers/{org.id}")
    assert response.status_code == 200 and response.mimetype == "text/html"
    parse(response)
    html = response.get_data(as_text=True)
    for text in ("<h1 id=\"listing-name\">Back Bay Infusion Suite</h1>", "Infusion centre", f"NPI {org.npi}",
                 "Demo data", "1 Main St, Boston, MA 02115", 'href="tel:+16175550100"', "(617) 555-0100",
                 "Fax (617) 555-0199", "<th scope=\"row\">Thursday</th><td>08:00-19:00</td>",
                 "<th scope=\"row\">Sunday</th><td>Closed</td>", "Wheelchair accessible: Yes",
                 "https://www.google.com/maps/dir/?api=1&amp;destination=1+Main+St%2C+Boston%2C+MA+02115",
                 "<td>Acme Health</td><td>Choice Plus</td><td>Medicare Advantage</td>",
                 "IVIG infusion", "Prior authorization help", "Gamunex-C", "Privigen",
                 "<dt>Infusion chairs</dt><dd>12</dd>", "<dt>Care for children</dt><dd>Yes</dd>",
                 "<dt>Help with prior authorization</dt><dd>Yes</dd>", "English, Spanish",
                 "<dt>Telehealth</dt><dd>Yes</dd>", "<dt>Accepting new patients</dt><dd>Yes</dd>",
                 "Accepting new patients</span>", (date.today() - timedelta(days=3)).isoformat(),
                 "<dt>How verified</dt><dd>By phone</dd>", 'id="report-form"'):
        assert text in html, text
    assert "Sam Staff" not in html  # who verified is for staff only
    assert html.index("Infusion Therapy Clinic/Center") < html.index("Medical Specialty Clinic")  # primary first
    assert "⚠" not in html and "Never verified" not in html


def test_practitioner_page_links_its_organization(client, factory, session, org):
    doc = factory.listing(kind="practitioner", name="Dr. Grace Hopper", first_name="Grace", last_name="Hopper",
                          credentials="MD, PhD", languages=["en", "vi"], specialties=["207RR0500X"],
                          telehealth=True)
    session.get(Practitioner, doc.id).gender = "F"
    org_loc = session.execute(select(Location).where(Location.listing_id == org.id)).scalar_one()
    session.add(Role(practitioner_id=doc.id, organization_id=org.id, location_id=org_loc.id,
                     specialty_code="207RR0500X", accepting_new_patients=True, telehealth=True))
    session.commit()
    response = client.get(f"/providers/{doc.id}")
    assert response.status_code == 200
    parse(response)
    html = response.get_data(as_text=True)
    for text in ("Dr. Grace Hopper", "Clinician", f"NPI {doc.npi}", "<dt>Credentials</dt><dd>MD, PhD</dd>",
                 "<dt>Gender</dt><dd>Female</dd>", "English, Vietnamese", "Rheumatology",
                 f'<a href="/providers/{org.id}">Back Bay Infusion Suite</a>', "<dt>Telehealth</dt><dd>Yes</dd>",
                 "<dt>Accepting new patients</dt><dd>No</dd>", "Never verified"):
        assert text in html, text
    assert "Demo data</span>" not in html.split("<main", 1)[1].split("</main>")[0]
    org_html = client.get(f"/providers/{org.id}").get_data(as_text=True)
    assert f'<a href="/providers/{doc.id}">Dr. Grace Hopper</a>' in org_html


@pytest.mark.parametrize("age, stale", [(None, True), (91, True), (90, False), (10, False)])
def test_stale_warning(client, factory, session, age, stale):
    listing = factory.listing()
    session.get(Listing, listing.id).last_verified = None if age is None else date.today() - timedelta(days=age)
    session.commit()
    html = client.get(f"/providers/{listing.id}").get_data(as_text=True)
    assert ('class="verified stale"' in html) is stale
    assert ("call to confirm before you go" in html) is stale


def test_a_deactivated_listing_is_a_410_page_and_an_unknown_one_404(client, factory, session):
    listing = factory.listing()
    set_active(session, listing.id, False, actor="test")
    session.commit()
    response = client.get(f"/providers/{listing.id}")
    assert response.status_code == 410 and response.mimetype == "text/html"
    assert "<h1>Listing removed</h1>" in response.get_data(as_text=True)
    assert "This listing was removed from the directory." in response.get_data(as_text=True)
    parse(response)
    response = client.get("/providers/999999")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "removed from the directory" not in response.get_data(as_text=True)
    set_active(session, listing.id, True, actor="test")
    session.commit()
    assert client.get(f"/providers/{listing.id}").status_code == 200


def test_a_staff_verification_publishes_when_and_how_never_who(client, factory, session):
    from tests.web.test_staff_upkeep import signed_in_as, verify_form

    listing = factory.listing(name="Fenway Infusion Center")
    email = signed_in_as(client, session, "verifier")
    response = client.post(f"/staff/verification/{listing.id}", data=verify_form(client, listing, method="email"))
    assert response.status_code == 303
    session.expire_all()
    assert session.get(Listing, listing.id).verified_by == email  # staff keep it
    public = {
        "page": client.get(f"/providers/{listing.id}"),
        "api": client.get(f"/api/v1/providers/{listing.id}"),
        "search": client.get("/api/v1/search?zip=02115"),
        "page of results": client.get("/?zip=02115"),
        "csv": client.get("/export.csv?zip=02115"),
        "referrals": client.get("/referrals?zip=02115"),
        "openapi": client.get("/api/v1/openapi.json"),
    }
    for name, response in public.items():
        assert response.status_code == 200, name
        body = response.get_data(as_text=True)
        assert email not in body and "verified_by" not in body, name
    assert public["api"].get_json()["verification"] == {
        "last_verified": date.today().isoformat(), "method": "email", "source": "staff"}
    assert "<dt>How verified</dt><dd>By email</dd>" in public["page"].get_data(as_text=True)


def post_report(client, lid, token=None, **fields):
    data = {"problem": "wrong_phone", "details": "The phone number rings a pizza shop.", "contact": ""} | fields
    if token is not None:
        data["csrf_token"] = token
    return client.post(f"/providers/{lid}/report", data=data)


def test_report_is_stored_hashed_audited_and_thanked(client, factory, session, app):
    listing = factory.listing()
    token = csrf_token(client, listing.id)
    response = post_report(client, listing.id, token, contact=" me@example.org ")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/providers/{listing.id}")
    page = client.get(response.headers["Location"])
    assert f'<p class="flash flash-success" role="status">{THANKS}</p>' in page.get_data(as_text=True)
    report = session.execute(select(ProblemReport)).scalar_one()
    assert (report.listing_id, report.problem, report.status) == (listing.id, "wrong_phone", "open")
    assert (report.details, report.contact) == ("The phone number rings a pizza shop.", "me@example.org")
    assert report.created_at.tzinfo is not None and report.resolved_at is None
    assert report.client_key == reports.client_key("127.0.0.1", app.config["SECRET_KEY"])
    assert "127.0.0.1" not in report.client_key and len(report.client_key) == 64
    audit = session.execute(select(AuditEntry).where(AuditEntry.action == "report")).scalar_one()
    assert (audit.actor, audit.listing_id, audit.changes) == ("public", listing.id, {"problem": [None, "wrong_phone"]})


@pytest.mark.parametrize("token", [None, "not-a-real-token"])
def test_report_without_valid_csrf_token_is_refused(client, factory, session, token):
    listing = factory.listing()
    response = post_report(client, listing.id, token)
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "security token" in response.get_data(as_text=True)
    assert count(session, ProblemReport) == 0


def test_invalid_report_shows_messages_next_to_fields(client, factory, session):
    listing = factory.listing()
    token = csrf_token(client, listing.id)
    response = post_report(client, listing.id, token, problem="rude", details="bad", contact="not-an-email")
    assert response.status_code == 400
    page = parse(response)
    for name in ("problem", "details", "contact"):
        tag, attrs = page.ids[name]
        assert attrs.get("aria-invalid") == "true", name
        assert f"{name}-error" in attrs["aria-describedby"].split(), name
        assert page.ids[f"{name}-error"] == ("p", {"class": "error", "id": f"{name}-error"})
    html = response.get_data(as_text=True)
    assert '<textarea id="details"' in html and ">bad</textarea>" in html
    assert 'value="not-an-email"' in html
    assert count(session, ProblemReport) == 0 and count(session, AuditEntry) == 1  # only the create


def test_sixth_report_in_an_hour_is_rate_limited(client, factory, session):
    listing = factory.listing()
    token = csrf_token(client, listing.id)
    for _ in range(reports.PER_CLIENT_PER_HOUR):
        assert post_report(client, listing.id, token).status_code == 303
    response = post_report(client, listing.id, token)
    assert response.status_code == 429 and response.headers["Retry-After"] == "3600"
    assert "5 reports in the last hour" in response.get_data(as_text=True)
    assert count(session, ProblemReport) == reports.PER_CLIENT_PER_HOUR


def test_report_rate_limits_by_listing_and_window(factory, session):
    listing = factory.listing()
    now = reports.utcnow()
    for i in range(reports.PER_CLIENT_PER_HOUR):  # an hour ago: no longer counts for the client
        reports.file_report(session, listing_id=listing.id, problem="other", details="old report",
                            contact=None, client_key="a", now=now - timedelta(minutes=61 + i))
    reports.file_report(session, listing_id=listing.id, problem="other", details="new report",
                        contact=None, client_key="a", now=now)
    for i in range(reports.PER_LISTING_PER_DAY - 6):
        reports.file_report(session, listing_id=listing.id, problem="closed", details="many people",
                            contact=None, client_key=f"client-{i}", now=now)
    session.commit()
    with pytest.raises(reports.RateLimited, match="today"):
        reports.file_report(session, listing_id=listing.id, problem="closed", details="one too many",
                            contact=None, client_key="someone-else", now=now)
    session.commit()
    assert count(session, ProblemReport) == reports.PER_LISTING_PER_DAY


def test_report_for_an_unknown_listing_is_404_and_a_deactivated_one_410(client, factory, session):
    listing = factory.listing()
    token = csrf_token(client, listing.id)
    assert post_report(client, 999999, token).status_code == 404
    set_active(session, listing.id, False, actor="test")
    session.commit()
    response = post_report(client, listing.id, token)
    assert response.status_code == 410
    assert "This listing was removed from the directory." in response.get_data(as_text=True)
    assert count(session, ProblemReport) == 0


def test_migration_creates_problemreport_with_constraints(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect
    from sqlalchemy.exc import IntegrityError
    from sqlmodel import SQLModel

    from directory import migrate
    from directory.db import make_engine
    from directory.npi import make_npi

    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    try:
        migrate.upgrade(engine)
        checks = {c["name"] for c in inspect(engine).get_check_constraints("problemreport")}
        assert {"ck_report_problem", "ck_report_status"} <= checks
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
        assert not [d for d in diff if "problemreport" in repr(d)], diff
        with Session(engine) as session:
            listing = Listing(kind="organization", npi=make_npi(1, individual=False), name="X")
            session.add(listing)
            session.commit()
            for bad in ({"status": "lost"}, {"problem": "rude"}):
                values = {"listing_id": listing.id, "problem": "other", "details": "hello", "client_key": "k"}
                session.add(ProblemReport(**values | bad))
                with pytest.raises(IntegrityError):
                    session.commit()
                session.rollback()
    finally:
        engine.dispose()


@pytest.mark.parametrize("proxies", [0, 1])
def test_client_address_behind_a_trusted_proxy(app, client, factory, session, proxies):
    """Behind a proxy (TRUSTED_PROXIES=1) each client has its own rate limit; without one the
    forwarded header is ignored, since any client could send it."""
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    listing = factory.listing()
    token = csrf_token(client, listing.id)
    headers = {"X-Forwarded-For": "203.0.113.7"}
    response = client.post(f"/providers/{listing.id}/report", headers=headers,
                           data={"problem": "wrong_phone", "details": "Rings a pizza shop.", "contact": "",
                                 "csrf_token": token})
    assert response.status_code == 303
    seen = "203.0.113.7" if proxies else "127.0.0.1"
    report = session.execute(select(ProblemReport)).scalar_one()
    assert report.client_key == reports.client_key(seen, app.config["SECRET_KEY"])


def test_trusted_proxies_setting_wraps_the_app(tmp_path):
    from werkzeug.middleware.proxy_fix import ProxyFix

    from directory import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}",
                      "INDEX_DIR": str(tmp_path / "index"), "SECRET_KEY": "x", "TRUSTED_PROXIES": 2})
    assert isinstance(app.wsgi_app, ProxyFix) and app.wsgi_app.x_for == 2
