"""The staff import page: per-field change counts, and the template download (issue 12)."""

from __future__ import annotations

import csv
import io

from directory.importers.template import TEMPLATE_HEADER
from tests.web.test_staff_auth import text
from tests.web.test_staff_upkeep import signed_in_as, upload


def test_dry_run_lists_per_field_how_many_listings_would_change(client, session, factory):
    signed_in_as(client, session, "admin")
    first = factory.listing(telehealth=True)
    second = factory.listing(name="Capitol Infusion", telehealth=True)
    content = ("npi,kind,name,specialties,address,zip,telehealth\n"
               f"{first.npi},organization,Fenway Infusion Center,261QI0500X,1 Main St,02115,no\n"
               f"{second.npi},organization,Capitol Infusion,261QI0500X,1 Main St,02115,no\n").encode()
    page = text(upload(client, content))
    assert '<li id="field-telehealth">telehealth: 2 listings</li>' in page
    assert "Fields that would change" in page


def test_template_download_documents_practices_at_and_is_formula_safe(client, session):
    signed_in_as(client, session, "admin")
    rows = list(csv.reader(io.StringIO(text(client.get("/staff/imports/template.csv")))))
    assert rows[0] == list(TEMPLATE_HEADER) and "practices_at" in rows[0]
