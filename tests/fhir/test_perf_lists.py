"""The searches that read rows for a list of listing ids bound as one parameter (a JSON array on
SQLite, an array on PostgreSQL: `universe.among`) give the same answers on both databases:
`Location?near` (its points), `location.near` on PractitionerRole (its roles' places) and the
light resources a narrowed search tests."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlmodel import Session

from directory.db import get_engine
from directory.fhir.codes import Canonicals
from directory.fhir.universe import mapped, resources
from directory.models import MAX_ID
from tests.fhir.plans import plans, statements_run

BOSTON = "42.3467|-71.0972|20|mi"


def _pages(client, url: str) -> tuple[int, list[str]]:
    """(total, ids of every match) walking the `next` links."""
    seen, total = [], None
    while url is not None:
        body = client.get(url).get_json()
        assert body["resourceType"] == "Bundle", body
        total = body["total"] if total is None else total
        assert body["total"] == total
        seen += [e["resource"]["id"] for e in body.get("entry", []) if e["search"]["mode"] == "match"]
        following = next((link["url"] for link in body["link"] if link["relation"] == "next"), None)
        url = None if following is None else f"{urlsplit(following).path}?{urlsplit(following).query}"
    return total, seen


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_near_pages_and_roles_near_agree_on_either_database(client, factory, directory_data):
    factory.listing(name="Back Bay Infusion", zips=["02116", "02118", "02215"])
    factory.listing(name="Lakeside Infusion", zip="60601")
    total, seen = _pages(client, f"/fhir/Location?near={BOSTON}&_count=2")
    whole = client.get(f"/fhir/Location?near={BOSTON}&_count=100").get_json()
    assert total == whole["total"] == 6 and len(set(seen)) == 6
    assert seen == [e["resource"]["id"] for e in whole["entry"]]
    miles = [e["search"]["extension"][0]["valueDistance"]["value"] for e in whole["entry"]]
    assert miles == sorted(miles) and miles[-1] <= 20
    role = directory_data["role"]
    roles = client.get(f"/fhir/PractitionerRole?location.near={BOSTON}").get_json()
    assert {e["resource"]["id"] for e in roles["entry"]} == {f"role-{role.id}-{directory_data['ppo'].id}"}
    assert roles["entry"][0]["search"]["extension"][0]["valueDistance"]["code"] == "[mi_i]"
    far = client.get("/fhir/PractitionerRole?location.near=41.8781|-87.6298|20|mi").get_json()
    assert far["total"] == 0


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_roles_near_with_filters_the_candidates_were_built_for(client, directory_data):
    """A role search whose specialty, network and new-patient the light roles are built for
    (light.Within: those tests are not run again) answers as each test says, and a network value
    the Searcher's filter reads but the test refuses (another server's) finds nothing."""
    role, ppo, hmo = directory_data["role"], directory_data["ppo"].id, directory_data["hmo"].id
    wanted = f"role-{role.id}-{ppo}"
    base = f"/fhir/PractitionerRole?location.near={BOSTON}"

    def ids(query: str) -> list[str]:
        body = client.get(base + query).get_json()
        assert body["resourceType"] == "Bundle", body
        return [e["resource"]["id"] for e in body.get("entry", []) if e["search"]["mode"] == "match"]

    for query in (f"&network=Organization/net-{ppo}", f"&network=net-{ppo}", f"&network=net-{hmo},net-{ppo}",
                  "&specialty=207RR0500X", "&specialty=http://nucc.org/provider-taxonomy|207RR0500X",
                  "&new-patient=newpt", "&new-patient=nopt,newpt",
                  f"&network=Organization/net-{ppo}&specialty=207RR0500X&new-patient=newpt"):
        assert ids(query) == [wanted], query
    assert client.get(f"{base}&network=Location/net-{ppo}").status_code == 400
    for query in (f"&network=net-{hmo}",
                  f"&network=http://elsewhere.example/fhir/Organization/net-{ppo}", "&specialty=2084N0400X",
                  "&specialty=http://example.org/other|207RR0500X", "&new-patient=nopt",
                  f"&network=net-{ppo}&new-patient=nopt"):
        assert ids(query) == [], query


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_narrowed_light_searches_agree_on_either_database(client, factory):
    doctors = [factory.listing(kind="practitioner", name=f"Grace Hopper {i}", first_name="Grace",
                               last_name=f"Hopper{i}", zip="02116").id for i in range(5)]
    factory.listing(kind="practitioner", name="Ada Lovelace", first_name="Ada", last_name="Lovelace", zip="02116")
    total, seen = _pages(client, "/fhir/Practitioner?family=hopp&_count=2")
    assert total == 5 and seen == [f"prac-{i}" for i in doctors]


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_content_pages_follow_the_ranking_of_active_listings_of_the_type(client, factory):
    centres = [factory.listing(name=f"Fenway Infusion Center {i}", zip="02115").id for i in range(4)]
    factory.listing(kind="practitioner", name="Fenway Doctor", first_name="Fenway", last_name="Doctor", zip="02116")
    factory.network(name="Fenway Select PPO", payer="Fenway Health")
    total, seen = _pages(client, "/fhir/Organization?_content=fenway infusion&_count=1")
    api = client.get("/api/v1/search?q=fenway infusion&kind=organization&sort=relevance").get_json()
    assert total == api["total"] == 4 and seen == [f"org-{r['id']}" for r in api["results"]]
    assert sorted(seen) == sorted(f"org-{i}" for i in centres)
    doctors = client.get("/api/v1/search?q=fenway&kind=practitioner&sort=relevance").get_json()["results"]
    assert _pages(client, "/fhir/Practitioner?_content=fenway") == (1, [f"prac-{r['id']}" for r in doctors])
    # The Searcher pages it: a deactivated listing leaves its index (and the count) when it is written.
    from directory.services.listings import set_active
    from directory.services.unit_of_work import unit_of_work

    with client.application.app_context(), unit_of_work("test") as uow:
        set_active(uow.session, centres[1], False, "test")
    total, seen = _pages(client, "/fhir/Organization?_content=fenway infusion&_count=1")
    assert total == 3 and sorted(seen) == sorted(f"org-{i}" for i in centres if i != centres[1])


@pytest.mark.parametrize("resource_type", ["PractitionerRole", "Location", "Organization"])
def test_a_page_mapped_by_keys_equals_the_whole_mapping(demo, resource_type):
    """`universe.mapped` (what a search page maps: a role alone, not its practitioner's every
    role and network) gives each key the resource the whole mapping gives it."""
    canon = Canonicals()
    with Session(get_engine(demo.app)) as session:
        whole = dict(resources(session, resource_type, canon))
        keys = sorted(whole)[1::4] + [(0, MAX_ID, 0), (0, sorted(whole)[0][1], 999)]
        found = mapped(session, resource_type, canon, keys)
    assert len(keys) > 10 and found == {key: whole[key] for key in keys if key in whole}
    assert any(len([k for k in whole if k[:2] == key[:2]]) > 1 for key in found)  # listings with several


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_near_reads_the_locations_in_the_box_and_keeps_order_ties_and_the_antimeridian(app, client, factory):
    """`Location?near` counts the locations in the circle's bounding box by point (migration 0014's
    index): a listing's several locations at one point (a ZIP centre) tie and follow their position,
    page after page; an inactive listing's location in the box is left out, whether others share
    its point or not (migration 0015's index finds it); a circle across the
    antimeridian finds the locations on its other side."""
    from sqlalchemy import select

    from directory.models import Location
    from directory.services.listings import set_active
    from directory.services.unit_of_work import unit_of_work

    def locations(listing) -> list[int]:
        with Session(get_engine(app)) as s:
            return sorted(s.exec(select(Location.id).where(Location.listing_id == listing.id)).scalars())

    several = factory.listing(name="Back Bay Infusion", zips=["02116", "02116", "02116"])
    same_point = factory.listing(name="Copley Infusion", zip="02116")
    gone = factory.listing(name="Closed Infusion", zip="02116")
    alone = factory.listing(name="Closed Cambridge Infusion", zip="02139")  # the only location at its point
    factory.listing(name="Lakeside Infusion", zip="60601")
    with app.app_context(), unit_of_work("test") as uow:
        set_active(uow.session, gone.id, False, "test")
        set_active(uow.session, alone.id, False, "test")
    total, seen = _pages(client, f"/fhir/Location?near={BOSTON}&_count=1")
    whole = client.get(f"/fhir/Location?near={BOSTON}&_count=100").get_json()
    ids = [e["resource"]["id"] for e in whole["entry"]]
    assert total == whole["total"] == 4 and seen == ids
    own = locations(several)
    # One point: the lower listing id first, its locations in id order.
    assert ids == [f"loc-{i}" for i in own] + [f"loc-{locations(same_point)[0]}"]
    # Adak, Alaska (lon -177.09) from a centre west of the antimeridian (lon 179.5, 145.5 mi away).
    adak = factory.listing(name="Aleutian Infusion", zip="99546")
    across = client.get("/fhir/Location?near=51.88|179.5|150|mi").get_json()
    assert across["total"] == 1 and across["entry"][0]["resource"]["id"] == f"loc-{locations(adak)[0]}"
    assert client.get("/fhir/Location?near=51.88|179.5|140|mi").get_json()["total"] == 0


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_location_near_reads_indexes_only(app, client, factory):
    """`Location?near` counts its points through migration 0014's index and finds inactive listings
    through migration 0015's: no statement of the request reads the listing or location table whole
    (SQLite: no SCAN of either; PostgreSQL, told not to scan when it can do otherwise: no Seq Scan)."""
    from directory.services.listings import set_active
    from directory.services.unit_of_work import unit_of_work

    factory.listing(name="Back Bay Infusion", zips=["02116", "02115"])
    gone = factory.listing(name="Closed Infusion", zip="02116")
    with app.app_context(), unit_of_work("test") as uow:
        set_active(uow.session, gone.id, False, "test")
    engine = get_engine(app)
    with statements_run(engine) as statements:
        body = client.get(f"/fhir/Location?near={BOSTON}&_count=1").get_json()
    assert body["total"] == 2
    postgres = engine.dialect.name == "postgresql"
    joined = " | ".join(plans(engine, statements))
    assert "ix_location_point" in joined and "ix_listing_inactive" in joined, joined
    scans = [step for step in joined.split(" | ") if "Seq Scan" in step
             or any(f"SCAN {table}" in step for table in ("listing", "location"))]
    assert scans == ([] if postgres else ["SCAN listing USING COVERING INDEX ix_listing_inactive"]), joined
