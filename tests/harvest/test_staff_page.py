"""The staff harvest page: admins see each source's last run, counts, problems and next due date;
others are refused; the page is valid HTML5."""

from __future__ import annotations

from tests.harvest.conftest import register, run
from tests.harvest.server import FaultyServer, bundle, location, network, practitioner, role
from tests.web.test_html_valid import assert_valid_html5
from tests.web.test_providers import parse
from tests.web.test_staff_upkeep import signed_in_as


def test_admins_see_each_sources_last_run_and_others_are_refused(app, client, session, tmp_path):
    signed_in_as(client, session, "admin")
    empty = client.get("/staff/harvest")
    assert empty.status_code == 200 and b"No sources yet" in empty.data
    with FaultyServer() as faulty:
        faulty.script["PractitionerRole"] = [bundle([role(1), practitioner(1), location(1), network(1),
                                                     role(2), practitioner(2, npi=None), location(2)])]
        source = register(app, faulty.base, name="faulty", payer="Faulty Health")
        run(app, source)
    page = client.get("/staff/harvest")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "faulty" in body and "Faulty Health" in body and "(done)" in body
    assert "participations added: 1" in body and "listings added: 1" in body
    assert "PractitionerRole/r-2" in body and "has no NPI" in body
    assert_valid_html5({"empty": empty, "harvest": page}, tmp_path, check=parse)
    client.post("/staff/logout")
    other = client.application.test_client()
    signed_in_as(other, session, "editor")
    assert other.get("/staff/harvest").status_code == 403
