"""A FHIR client (fhirpy's SyncFHIRClient) reads and pages through the app served on loopback."""

from __future__ import annotations

import pytest
from fhirpy import SyncFHIRClient

from tests.loopback import serving


@pytest.fixture
def fhir_url(app):
    with serving(app) as base:  # the app keeps /fhir requests out of the server's access log
        yield f"{base}/fhir"


def test_fhirpy_reads_resources_and_fetches_every_page(fhir_url, factory, directory_data):
    d = directory_data
    others = [factory.listing(kind="practitioner", name=f"Grace Hopper {i}", zip="02116").id for i in range(4)]
    client = SyncFHIRClient(fhir_url, extra_headers={"Accept": "application/fhir+json"})
    practitioner = client.reference("Practitioner", f"prac-{d['doctor'].id}").to_resource()
    assert practitioner["identifier"][0]["value"] == d["doctor"].npi
    role = client.reference("PractitionerRole", f"role-{d['role'].id}-{d['ppo'].id}").to_resource()
    organization = client.reference(reference=role["organization"]["reference"]).to_resource()
    assert organization["name"] == "Fenway Infusion Center"
    everyone = client.resources("Practitioner").limit(2).fetch_all()
    assert [p["id"] for p in everyone] == [f"prac-{i}" for i in [d["doctor"].id, *others]]
    some = client.resources("Practitioner").search(_id=f"prac-{others[1]},prac-{others[3]}").fetch_all()
    assert [p["id"] for p in some] == [f"prac-{others[1]}", f"prac-{others[3]}"]
