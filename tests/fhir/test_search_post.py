"""`POST [type]/_search`: the same search with its parameters in a form body, read-only and
without a CSRF token (tests/web/test_staff_routes.py exempts it from the token rule)."""

from __future__ import annotations

from sqlmodel import func, select

from directory.models import AuditEntry, Listing


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [e["resource"]["id"] for e in response.get_json().get("entry", [])]


def test_post_search_answers_as_get_does_and_changes_nothing(client, session, directory_data):
    d = directory_data
    before = (session.exec(select(func.count()).select_from(Listing)).one(),
              session.exec(select(func.count()).select_from(AuditEntry)).one())
    wanted = f"PractitionerRole?network=net-{d['ppo'].id}"
    by_get = _ids(client.get(f"/fhir/{wanted}"))
    by_post = _ids(client.post("/fhir/PractitionerRole/_search", data={"network": f"net-{d['ppo'].id}"}))
    assert by_post == by_get == [f"role-{d['role'].id}-{d['ppo'].id}"]
    # URL and body parameters combine (repetition = all of).
    url = "/fhir/PractitionerRole/_search?specialty=http://nucc.org/provider-taxonomy|207RR0500X"
    assert _ids(client.post(url, data={"network": f"net-{d['ppo'].id}"})) == by_get
    assert _ids(client.post(url, data={"network": f"net-{d['hmo'].id}"})) == []
    assert (session.exec(select(func.count()).select_from(Listing)).one(),
            session.exec(select(func.count()).select_from(AuditEntry)).one()) == before


def test_post_search_wants_a_form_and_keeps_the_type_url_in_links(client, directory_data):
    response = client.post("/fhir/Practitioner/_search", json={"name": "Ada"})
    assert response.status_code == 415 and response.get_json()["issue"][0]["code"] == "not-supported"
    bundle = client.post("/fhir/Practitioner/_search", data={"name": "ada"}).get_json()
    assert bundle["total"] == 1
    assert bundle["link"][0]["url"].startswith("http://localhost/fhir/Practitioner?name=ada")
    assert client.post("/fhir/Patient/_search", data={}).status_code == 404


def test_post_search_preflight_allows_post_from_anywhere(client):
    response = client.options("/fhir/Practitioner/_search", headers={
        "Origin": "https://app.example.net", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Prefer"})
    assert response.status_code == 204 and response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Prefer" in response.headers["Access-Control-Allow-Headers"]
