"""Type-level search (directory/fhir/search.py): `_id`, `_count` and keyset paging, on Practitioner."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fhir.resources.R4B.bundle import Bundle

from directory.fhir.search import encode_cursor
from tests.fhir.walking import answers_of, every_page


@pytest.fixture
def practitioners(factory):
    return [factory.listing(kind="practitioner", name=f"Ada Lovelace {i}", zip="02116").id for i in range(7)]


def _bundle(client, query: str, **headers) -> dict:
    response = client.get(f"/fhir/Practitioner{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    Bundle.model_validate(body)
    return body


def _ids(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def _link(bundle: dict, relation: str) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == relation), None)


def test_paging_walks_every_practitioner_once_in_id_order(client, practitioners):
    seen, query = [], "?_count=3"
    while query is not None:
        bundle = _bundle(client, query)
        assert bundle["total"] == 7 and len(_ids(bundle)) <= 3
        assert all(e["search"]["mode"] == "match" for e in bundle["entry"])
        seen += _ids(bundle)
        following = _link(bundle, "next")
        query = None if following is None else "?" + urlsplit(following).query
    assert seen == [f"prac-{i}" for i in practitioners]


def test_id_comma_is_any_of_and_repetition_is_all_of(client, practitioners):
    a, b, c = (f"prac-{i}" for i in practitioners[:3])
    assert _ids(_bundle(client, f"?_id={c},{a},prac-999999")) == [a, c]
    assert _ids(_bundle(client, f"?_id={a},{b}&_id={b},{c}")) == [b]
    assert _bundle(client, "?_id=org-1")["total"] == 0


def test_count_defaults_caps_and_zero_is_total_only(client, practitioners):
    assert len(_ids(_bundle(client, ""))) == 7
    assert parse_qs(urlsplit(_link(_bundle(client, "?_count=1000"), "self")).query)["_count"] == ["100"]
    only_total = _bundle(client, "?_count=0")
    assert only_total["total"] == 7 and "entry" not in only_total and _link(only_total, "next") is None


def test_self_names_only_the_applied_parameters(client, practitioners):
    bundle = _bundle(client, f"?_id=prac-{practitioners[0]}&_count=2&_format=json&nonsense=1",
                     Prefer="handling=lenient")
    assert parse_qs(urlsplit(_link(bundle, "self")).query) == {"_id": [f"prac-{practitioners[0]}"], "_count": ["2"]}


@pytest.mark.parametrize(("query", "status", "code", "expression"), [
    ("?birthdate=1970", 400, "not-supported", "birthdate"),
    ("?_id:exact=prac-1", 400, "not-supported", "_id:exact"),
    ("?_count=-1", 400, "invalid", "_count"),
    ("?_count=ten", 400, "invalid", "_count"),
    ("?_cursor=not-ours", 400, "invalid", "_cursor"),
    (f"?_cursor={encode_cursor((0, -5, 0))}", 400, "invalid", "_cursor"),
    ("?_id=", 400, "invalid", "_id"),
])
def test_bad_requests_are_operation_outcomes(client, practitioners, query, status, code, expression):
    response = client.get(f"/fhir/Practitioner{query}")
    issue = response.get_json()["issue"][0]
    assert (response.status_code, issue["code"], issue.get("expression")) == (status, code, [expression])


def test_unknown_types_say_so(client):
    response = client.get("/fhir/Patient?name=Boston")
    assert response.status_code == 404 and response.get_json()["issue"][0]["code"] == "not-supported"


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_names_match_without_accents_or_case(client, factory):
    jose = factory.listing(kind="practitioner", name="José Núñez, MD", first_name="José", last_name="Núñez",
                           zip="02116").id
    factory.listing(kind="practitioner", name="Ada Lovelace", zip="02116")
    cafe = factory.listing(name="Café Infusión", zip="02115").id
    for query in ("name=nunez", "name=JOSE", "family=NÚÑ", "given=jose", "name:contains=UNE", "name:exact=Núñez"):
        assert _ids(_bundle(client, f"?{query}")) == [f"prac-{jose}"], query
    for query in ("name=nunez,lovelace&family=lovelace", "name:exact=nunez", "given=nunez"):
        assert f"prac-{jose}" not in _ids(_bundle(client, f"?{query}")), query
    organizations = client.get("/fhir/Organization?name=cafe infusion").get_json()
    assert [e["resource"]["id"] for e in organizations["entry"]] == [f"org-{cafe}"]


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_near_and_content_go_through_either_search_backend(client, factory):
    boston = factory.listing(name="Fenway Infusion Center", zip="02115").id
    factory.listing(name="Lakeside Infusion", zip="60601")
    near = client.get("/fhir/Location?near=42.3467|-71.0972|20|mi").get_json()
    assert [e["resource"]["managingOrganization"]["reference"] for e in near["entry"]] == [f"Organization/org-{boston}"]
    assert near["entry"][0]["search"]["extension"][0]["valueDistance"]["code"] == "[mi_i]"
    for text in ("fenway", "fenwey infusion", "lakeside"):
        found = client.get(f"/fhir/Organization?_content={text}").get_json()
        api = client.get(f"/api/v1/search?q={text}&kind=organization&sort=relevance").get_json()
        assert [e["resource"]["id"] for e in found.get("entry", [])] == [f"org-{r['id']}" for r in api["results"]]
        assert found["total"] == api["total"] > 0


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_a_name_search_counts_and_pages_alike_whether_certain_or_tested(client, session, factory, monkeypatch):
    """`Practitioner?name` and `Organization?name` alone count the listings the database certainly
    matched (ASCII names found by their prefix) without mapping them, in one statement that counts
    and pages them (search._text_page); the others (text beyond ASCII, networks, other kinds,
    inactive listings) are still tested. Every page, followed by its `next` link, gives the
    matches once, in id order, and the same Bundles as testing every candidate."""
    from directory.fhir import criteria, search
    from directory.models import Listing

    paged = answers_of(monkeypatch, search, "_text_page")

    ada = factory.listing(kind="practitioner", name="Lovelace Ada", first_name="Ada", last_name="Lovelace").id
    jose = factory.listing(kind="practitioner", name="José Lovéz", first_name="José", last_name="Lovéz").id
    gone = factory.listing(kind="practitioner", name="Ada Lovett", first_name="Ada", last_name="Lovett").id
    session.get(Listing, gone).active = False
    session.commit()
    factory.listing(name="Lovely Care Infusion")  # an organization: no Practitioner
    bo = factory.listing(kind="practitioner", name="Bo Smith", first_name="LOVIS", last_name="Smith").id
    md = factory.listing(kind="practitioner", name="Cy Young", first_name="Cy", last_name="Young",
                         credentials="LOVMD").id
    factory.listing(kind="practitioner", name="Al Lowe", first_name="Al", last_name="Lowe")
    love = factory.listing(name="Love Infusion Center").id
    network = factory.network(name="Lovell Select PPO", payer="Lovell Health")
    expected = [f"prac-{i}" for i in sorted((ada, jose, bo, md))]
    for query in ("?name=lov", "?name=LOV,zzz", "?name=lov&name=lo"):
        seen, url = [], f"{query}&_count=1"
        while url is not None:
            bundle = _bundle(client, url)
            assert bundle["total"] == 4, (query, bundle["total"])
            seen += _ids(bundle)
            url = _link(bundle, "next")
            url = url and url[url.index("?"):]
        assert seen == expected, query
    assert _ids(_bundle(client, "?name=lov&_count=100")) == expected
    assert _bundle(client, "?name=lov&_count=0")["total"] == 4
    assert _ids(_bundle(client, "?name=lov&_id=" + f"prac-{jose},prac-{bo}")) == [f"prac-{jose}", f"prac-{bo}"]
    organizations = client.get("/fhir/Organization?name=lov&_count=100").get_json()
    found = [e["resource"]["id"] for e in organizations["entry"]]
    assert organizations["total"] == len(found) == 4  # Lovely Care, Love Infusion, the payer and the network
    assert f"org-{love}" in found and f"net-{network.id}" in found
    assert len(paged) > 10  # every search above but the one with _id
    # The same searches, every candidate tested, answer alike.
    queries = ["Practitioner?name=lov&_count=1", "Practitioner?name=LOV,zzz&_count=3", "Practitioner?name=lov&name=lo",
               "Organization?name=lov&_count=2", "Practitioner?name=zzz"]

    alone = [every_page(client, query) for query in queries]
    monkeypatch.setattr(criteria, "certain_selects", lambda *args: None)
    paged.clear()
    assert [every_page(client, query) for query in queries] == alone and not paged


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_roles_near_are_placed_by_one_statement_as_built(client, session, factory, monkeypatch):
    """A `location.near` role search whose tests the roles' rows answer (search._placed_roles: one
    statement that numbers each practitioner's roles and networks) gives the same entries, keys
    and totals as building and testing every role, on either database: roles at several places,
    with and without their own specialty, accepting or not, practitioners in several networks,
    in one, in none, one inactive, and roles at an inactive clinic's locations, which no chain reaches."""
    from sqlalchemy import select

    from directory.fhir import search
    from directory.models import Listing, Location
    from directory.services.roles import add_role
    from directory.services.unit_of_work import unit_of_work

    networks = [factory.network(name=f"Plan {i}").id for i in range(3)]
    clinics = [factory.listing(name=f"Clinic {i}", zips=["02115", "02139", "01060"]) for i in range(2)]
    places = list(session.scalars(select(Location.id).where(Location.listing_id.in_([c.id for c in clinics]))
                                  .order_by(Location.id)))
    held = ["207RR0500X", "2084N0400X", "207N00000X"]
    people = []
    for i in range(6):
        person = factory.listing(kind="practitioner", name=f"Ada Lovelace {i}", zip="02116",
                                 specialties=held[i % 3:] + held[:i % 3], primary_specialty=held[(i + 1) % 3],
                                 networks=[networks[j] for j in range(3) if (i + j) % 3 or i == 4][:max(0, i - 1)])
        with factory.app.app_context(), unit_of_work("test", session=session) as work:
            for n, place in enumerate(places[i % 2::2][:3]):
                add_role(work.session, practitioner_id=person.id, location_id=place, actor=work.actor,
                         specialty_code=held[(i + n) % 3] if n % 2 else None, accepting_new_patients=(i + n) % 2 == 0)
        people.append(person.id)
    session.get(Listing, people[3]).active = False
    session.get(Listing, clinics[1].id).active = False  # its locations are no Locations: no chain reaches them
    session.commit()
    factory.sync()
    closed = {f"Location/loc-{location}" for location in
              session.scalars(select(Location.id).where(Location.listing_id == clinics[1].id))}
    queries = [f"PractitionerRole?location.near=42.35|-71.08|{radius}|mi{filters}&_count=4"
               for radius in (10, 100)
               for filters in ("", "&specialty=2084N0400X", f"&network=Organization/net-{networks[1]}",
                               "&new-patient=newpt", f"&specialty=207RR0500X,207N00000X&network=net-{networks[0]}"
                               "&new-patient=nopt", "&new-patient=newpt,nopt")]

    answered = answers_of(monkeypatch, search, "_placed_roles")
    placed = [every_page(client, query) for query in queries]
    assert all(found is not None for found in answered) and len(answered) == sum(len(p) for p in placed)
    assert sum(pages[0]["total"] for pages in placed) > 20
    assert not {ref["reference"] for pages in placed for bundle in pages for e in bundle.get("entry", [])
                for ref in e["resource"]["location"]} & closed
    monkeypatch.setattr(search, "_placed_roles", lambda ctx, criteria: None)
    assert [every_page(client, query) for query in queries] == placed
