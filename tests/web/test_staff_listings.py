"""Staff listing editor: create, edit with optimistic locking, validation, deactivate and restore; every
change reaches public search before the response and is audited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, update

from directory.models import AuditEntry, Listing, Location, Practitioner
from directory.npi import make_npi
from tests.web.test_html_valid import assert_valid_html5
from tests.web.test_providers import parse
from tests.web.test_staff_auth import make_staff, sign_in, text

ORG_NPI = make_npi(9001, individual=False)
PRAC_NPI = make_npi(9002, individual=True)
STALE = "someone else saved this listing since you opened it; reload to see their change"


def token(client, url: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', text(client.get(url))).group(1)


def editor(app, session, email="ed@example.org", role="editor"):
    make_staff(session, email=email, role=role)
    client = app.test_client()
    assert sign_in(client, email=email).status_code == 303
    return client


def names_found(client, q: str) -> list[str]:
    body = client.get("/api/v1/search", query_string={"q": q}).get_json()
    return [r["name"] for r in body["results"]]


def org_form(**overrides) -> dict:
    form = {"name": "Riverbend Infusion Suite", "npi": ORG_NPI, "org_type": "infusion_center",
            "ivig_products": "Gamunex-C, Privigen", "specialties": ["261QI0500X"], "primary_specialty": "",
            "languages": ["en", "es"], "accepting_new_patients": "1",
            "locations.0.id": "", "locations.0.address": "10 River St", "locations.0.zip": "02115",
            "locations.0.city": "", "locations.0.state": "", "locations.0.phone": "6175550123",
            "locations.0.fax": "",
            "locations.1.id": "", "locations.1.address": "", "locations.1.zip": "", "locations.1.city": "",
            "locations.1.state": "", "locations.1.phone": "", "locations.1.fax": ""}
    form.update(overrides)
    return form


def create_org(client, **overrides):
    url = "/staff/listings/new?kind=organization"
    return client.post(url, data={"csrf_token": token(client, url), **org_form(**overrides)})


def edit_form(client, lid: int) -> dict:
    """Every value the edit page shows, as the browser would send it back."""
    html = text(client.get(f"/staff/listings/{lid}/edit"))
    form = html.split('id="listing-form"', 1)[1].split("</form>", 1)[0]
    data: dict = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag).group(1)
        value = re.search(r'value="([^"]*)"', tag)
        if 'type="checkbox"' in tag:
            if " checked" in tag:
                data[name] = "1"
            continue
        data[name] = value.group(1) if value else ""
    for name, body in re.findall(r'<select id="[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        data[name] = re.findall(r'<option value="([^"]*)" selected>', body)
    return data


def count(session, table) -> int:
    session.expire_all()
    return session.execute(select(func.count()).select_from(table)).scalar_one()


def test_anonymous_is_sent_to_sign_in(client, factory):
    listing = factory.listing()
    for url in ("/staff/listings/", "/staff/listings/new?kind=organization", f"/staff/listings/{listing.id}/edit"):
        response = client.get(url)
        assert response.status_code == 302 and response.location.startswith("/staff/login?next="), url


def test_verifier_is_forbidden(app, session, factory):
    listing = factory.listing()
    client = editor(app, session, email="v@example.org", role="verifier")
    for url in ("/staff/listings/", "/staff/listings/new?kind=organization", f"/staff/listings/{listing.id}/edit"):
        assert client.get(url).status_code == 403, url
    csrf = token(client, "/staff/")
    assert client.post(f"/staff/listings/{listing.id}/deactivate", data={"csrf_token": csrf}).status_code == 403
    assert client.post("/staff/listings/new?kind=organization",
                       data={"csrf_token": csrf, **org_form()}).status_code == 403
    assert count(session, Listing) == 1


def test_editor_creates_an_organization_found_by_public_search(app, session):
    client = editor(app, session)
    response = create_org(client)
    assert response.status_code == 303, text(response)
    listing = session.execute(select(Listing).where(Listing.npi == ORG_NPI)).scalar_one()
    assert response.location == f"/staff/listings/{listing.id}/edit"
    assert "Riverbend Infusion Suite was created" in text(client.get(response.location))
    assert "Riverbend Infusion Suite" in names_found(client, "Riverbend")
    locations = session.execute(select(Location).where(Location.listing_id == listing.id)).scalars().all()
    assert len(locations) == 1  # the empty row was ignored
    assert (locations[0].city, locations[0].state, locations[0].phone) == ("Boston", "MA", "(617) 555-0123")
    detail = client.get(f"/api/v1/providers/{listing.id}").get_json()
    assert detail["organization"]["ivig_products"] == ["Gamunex-C", "Privigen"]
    assert detail["accepting_new_patients"] is True
    entry = session.execute(select(AuditEntry).where(AuditEntry.listing_id == listing.id)).scalar_one()
    assert (entry.action, entry.actor) == ("create", "ed@example.org") and entry.staff_id is not None


def test_editor_creates_a_practitioner(app, session):
    client = editor(app, session)
    url = "/staff/listings/new?kind=practitioner"
    form = {"csrf_token": token(client, url), "name": "Dr. Imogen Quarry", "npi": PRAC_NPI, "first_name": "Imogen",
            "last_name": "Quarry", "credentials": "MD", "specialties": ["207RR0500X", "2084N0400X"],
            "primary_specialty": "2084N0400X", "languages": ["en"], "telehealth": "1",
            "locations.0.address": "1 Main St", "locations.0.zip": "02115"}
    response = client.post(url, data=form)
    assert response.status_code == 303, text(response)
    listing = session.execute(select(Listing).where(Listing.npi == PRAC_NPI)).scalar_one()
    prac = session.get(Practitioner, listing.id)
    assert (prac.first_name, prac.last_name, prac.credentials) == ("Imogen", "Quarry", "MD")
    assert "Dr. Imogen Quarry" in names_found(client, "Quarry")
    detail = client.get(f"/api/v1/providers/{listing.id}").get_json()
    assert detail["telehealth"] is True
    assert session.execute(select(AuditEntry.action).where(AuditEntry.listing_id == listing.id)).scalars().all() \
        == ["create"]


def test_edit_renames_and_public_search_follows(app, session):
    client = editor(app, session)
    create_org(client)
    lid = session.execute(select(Listing.id).where(Listing.npi == ORG_NPI)).scalar_one()
    data = edit_form(client, lid)
    assert data["name"] == "Riverbend Infusion Suite" and data["version"] == "1"
    assert data["specialties"] == ["261QI0500X"] and data["locations.0.zip"] == "02115"
    data["name"] = "Lakeshore Immunology Center"
    response = client.post(f"/staff/listings/{lid}/edit", data=data)
    assert response.status_code == 303 and response.location == f"/staff/listings/{lid}/edit"
    assert "Lakeshore Immunology Center" in names_found(client, "Lakeshore")
    assert names_found(client, "Riverbend") == []
    listing = session.get(Listing, lid)
    session.refresh(listing)
    assert listing.version == 2
    entry = session.execute(select(AuditEntry).where(AuditEntry.listing_id == lid, AuditEntry.action == "update")
                            ).scalar_one()
    assert entry.changes["name"] == ["Riverbend Infusion Suite", "Lakeshore Immunology Center"]
    assert entry.actor == "ed@example.org"


def test_validation_errors_are_shown_next_to_fields(app, session):
    client = editor(app, session)
    bad_npi = ORG_NPI[:-1] + str((int(ORG_NPI[-1]) + 1) % 10)
    response = create_org(client, npi=bad_npi, specialties=[], **{"locations.0.zip": "00000",
                                                                  "locations.0.phone": "555-12"})
    assert response.status_code == 400
    page = parse(response)
    for field in ("npi", "specialties", "locations.0.zip", "locations.0.phone"):
        assert f"{field}-error" in page.ids, field
        tag, attrs = page.ids[field]
        assert attrs.get("aria-invalid") == "true" and f"{field}-error" in attrs["aria-describedby"], field
    html = text(response)
    assert "an NPI is 10 digits with a valid check digit" in html
    assert "at least one specialty is required" in html
    assert f'value="{bad_npi}"' in html and 'value="10 River St"' in html  # input kept
    assert count(session, Listing) == 0 and count(session, AuditEntry) == 1  # only the staff account


def test_edit_validation_error_keeps_the_listing(app, session):
    client = editor(app, session)
    create_org(client)
    lid = session.execute(select(Listing.id).where(Listing.npi == ORG_NPI)).scalar_one()
    data = edit_form(client, lid)
    data.update({"name": "Renamed", "locations.0.phone": "12"})
    response = client.post(f"/staff/listings/{lid}/edit", data=data)
    assert response.status_code == 400
    assert "locations.0.phone-error" in parse(response).ids
    assert names_found(client, "Riverbend") == ["Riverbend Infusion Suite"]
    session.expire_all()
    assert session.get(Listing, lid).name == "Riverbend Infusion Suite"


def test_second_editor_with_a_stale_version_gets_409(app, session):
    first = editor(app, session)
    second = editor(app, session, email="ed2@example.org")
    create_org(first)
    lid = session.execute(select(Listing.id).where(Listing.npi == ORG_NPI)).scalar_one()
    mine, theirs = edit_form(first, lid), edit_form(second, lid)
    mine["name"] = "First Editor Infusions"
    theirs["name"] = "Second Editor Infusions"
    assert first.post(f"/staff/listings/{lid}/edit", data=mine).status_code == 303
    response = second.post(f"/staff/listings/{lid}/edit", data=theirs)
    assert response.status_code == 409
    assert STALE in text(response).lower()
    assert 'value="Second Editor Infusions"' in text(response)
    session.expire_all()
    assert session.get(Listing, lid).name == "First Editor Infusions"
    assert names_found(first, "Editor") == ["First Editor Infusions"]
    assert session.execute(select(func.count()).select_from(AuditEntry)
                           .where(AuditEntry.listing_id == lid, AuditEntry.action == "update")).scalar_one() == 1


def test_deactivate_hides_and_restore_brings_back(app, session):
    client = editor(app, session)
    create_org(client)
    lid = session.execute(select(Listing.id).where(Listing.npi == ORG_NPI)).scalar_one()
    csrf = token(client, f"/staff/listings/{lid}/edit")
    response = client.post(f"/staff/listings/{lid}/deactivate", data={"csrf_token": csrf})
    assert response.status_code == 303 and response.location == f"/staff/listings/{lid}/edit"
    assert names_found(client, "Riverbend") == []
    page = text(client.get(f"/staff/listings/{lid}/edit"))
    assert "Deactivated: hidden from public search." in page and "Restore Riverbend" in page
    assert "Deactivated" in text(client.get("/staff/listings/?q=riverbend"))
    assert client.post(f"/staff/listings/{lid}/restore", data={"csrf_token": csrf}).status_code == 303
    assert names_found(client, "Riverbend") == ["Riverbend Infusion Suite"]
    actions = session.execute(select(AuditEntry.action).where(AuditEntry.listing_id == lid)
                              .order_by(AuditEntry.id)).scalars().all()
    assert actions == ["create", "deactivate", "restore"]
    assert client.post("/staff/listings/9999/deactivate", data={"csrf_token": csrf}).status_code == 404


def test_list_searches_by_name_and_npi(app, session, factory):
    factory.listing(name="Alpha Infusion", npi=ORG_NPI)
    factory.listing(name="Beta Infusion")
    client = editor(app, session, email="boss@example.org", role="admin")
    page = text(client.get("/staff/listings/?q=alpha"))
    assert "Alpha Infusion" in page and "Beta Infusion" not in page
    page = text(client.get(f"/staff/listings/?q={ORG_NPI}"))
    assert "Alpha Infusion" in page and "Beta Infusion" not in page
    page = text(client.get("/staff/listings/"))
    assert "Alpha Infusion" in page and "Beta Infusion" in page and "/edit" in page


@pytest.mark.parametrize("kind", ["organization", "practitioner"])
def test_pages_are_valid_html5_with_labels(app, session, factory, tmp_path, kind):
    listing = factory.listing(kind=kind, name="Valid Page Provider")
    client = editor(app, session)
    pages = {"index": client.get("/staff/listings/"), "new": client.get(f"/staff/listings/new?kind={kind}"),
             "edit": client.get(f"/staff/listings/{listing.id}/edit")}
    url = f"/staff/listings/new?kind={kind}"
    pages["errors"] = client.post(url, data={"csrf_token": token(client, url), "npi": "1", "name": "",
                                             "locations.0.zip": "x"})
    assert pages["errors"].status_code == 400
    assert_valid_html5(pages, tmp_path, check=parse)


def test_bad_org_type_and_kind_are_refused_without_writing(app, session):
    client = editor(app, session)
    response = create_org(client, org_type="castle")
    assert response.status_code == 400 and "org_type-error" in parse(response).ids
    assert client.get("/staff/listings/new?kind=robot").status_code == 404
    url = "/staff/listings/new?kind=practitioner"
    response = client.post(url, data={"csrf_token": token(client, url), "name": "Dr. No Surname", "npi": PRAC_NPI,
                                      "first_name": "No", "specialties": ["207RR0500X"],
                                      "locations.0.address": "1 Main St", "locations.0.zip": "02115"})
    assert response.status_code == 400 and "last_name-error" in parse(response).ids
    assert count(session, Listing) == 0


def test_an_edit_keeps_the_dates_of_networks_still_chosen(app, session, factory):
    """Participation dates (set by the demo data or an import) survive an edit that keeps the
    network; a network left out is removed and a new one added without dates."""
    from datetime import date

    from directory.models import Participation
    from directory.services.listings import update_listing
    from tests.search.helpers import listing_input

    kept, dropped, added = (factory.network(name=f"Plan {n}") for n in ("Kept", "Dropped", "Added"))
    listing = factory.listing(name="Fenway Infusion Center", networks=[kept.id, dropped.id])
    session.execute(update(Participation).where(Participation.listing_id == listing.id)
                    .values(start_date=date(2024, 1, 1), end_date=date(2027, 12, 31)))
    session.commit()
    update_listing(session, listing.id, listing_input(listing, name="Fenway Infusion Center", zips=["02115"],
                                                      specialties=["261QI0500X"], networks=[kept.id, added.id]),
                   actor="test")
    session.commit()
    rows = session.execute(select(Participation.network_id, Participation.start_date, Participation.end_date)
                           .where(Participation.listing_id == listing.id)
                           .order_by(Participation.network_id)).all()
    assert rows == [(kept.id, date(2024, 1, 1), date(2027, 12, 31)), (added.id, None, None)]


def test_clearing_the_first_location_in_the_form_leaves_the_others_and_their_roles(app, session, factory):
    """The form sends each location's id: blanking the first row removes that location only; the
    roles practitioners hold at the others stay where they were."""
    from directory.models import Role
    from directory.services.roles import add_role

    org = factory.listing(name="Three Sites Infusion", zips=["02115", "02139", "01103"])
    places = session.execute(select(Location).where(Location.listing_id == org.id)
                             .order_by(Location.id)).scalars().all()
    prac = factory.listing(kind="practitioner", name="Dr Ada Lovelace")
    role = add_role(session, practitioner_id=prac.id, location_id=places[2].id, actor="test")
    session.commit()
    role_id, kept = role.id, [(p.id, p.address, p.zip) for p in places[1:]]
    client = editor(app, session)
    form = edit_form(client, org.id)
    for name in ("address", "zip", "city", "state", "phone", "fax"):
        form[f"locations.0.{name}"] = ""
    form["accepting_new_patients"] = form.get("accepting_new_patients", "")
    response = client.post(f"/staff/listings/{org.id}/edit", data=form)
    assert response.status_code == 303, text(response)
    session.expire_all()
    rows = session.execute(select(Location).where(Location.listing_id == org.id).order_by(Location.id)).scalars()
    assert [(p.id, p.address, p.zip) for p in rows] == kept
    assert session.get(Role, role_id).location_id == places[2].id
