"""Schemathesis against /api/v1/openapi.json of the app served on loopback, with all of its checks.

Every operation gets the schema's examples, its coverage cases (edges and invalid values of every
parameter, other methods) and FUZZ_EXAMPLES generated requests, derandomized so a CI run is the
same every time. Releases run longer: FUZZ_EXAMPLES=1000 pytest tests/web/test_openapi_fuzz.py
"""

from __future__ import annotations

import json
import os
from urllib.request import urlopen

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlmodel import Session

from directory.db import get_engine
from directory.web.openapi import openapi_document
from tests.backends import close_app, make_app
from tests.factories import Factory
from tests.loopback import serving

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 40)


def fill(app) -> None:
    """A few listings and networks, so that ids, filters and pages find something."""
    with Session(get_engine(app), expire_on_commit=False) as session:
        make = Factory(app, session)
        harbor = make.network(name="Harbor Select PPO", payer="Harbor Health")
        make.network(name="Summit Care HMO", payer="Summit Mutual", plan_type="HMO")
        make.listing(name="Fenway Infusion Center", zip="02115", networks=[harbor.id], services=["ivig"])
        make.listing(name="Cambridge Neurology", kind="practitioner", zip="02139", languages=["en", "es"])
        make.listing(name="Quincy Home Infusion", zip="02169", accepting_new_patients=True)


@pytest.fixture(scope="module")
def live_api(tmp_path_factory):
    """The app with a small directory, served on a free loopback port; yields its base URL."""
    # Deep pages are rate-limited (tests/web/test_limits.py checks the 429): here every generated
    # request must reach the search itself.
    app = make_app("whoosh", tmp_path_factory.mktemp("fuzz"), MAP_TILE_URL="", DEEP_PAGE_RATE_LIMIT="100000 per minute")
    fill(app)
    with serving(app) as base:
        yield base
    close_app(app)


# The document the server serves (test_the_fuzzed_document_is_the_served_one), loaded at import:
# schemathesis.pytest.from_fixture, which could load it from the server, fails on pytest 9.2
# (it sets Function._nodeid, which pytest 9.2 no longer has).
schema = schemathesis.openapi.from_dict(openapi_document())


def test_the_fuzzed_document_is_the_served_one(live_api):
    with urlopen(f"{live_api}/api/v1/openapi.json") as response:
        assert json.load(response) == schema.raw_schema


# Rules of /api/v1/search that a schema cannot state: between parameters, or about what the database
# holds. A schema-valid request that breaks one is refused with the documented 400 naming the field.
RULES_BEYOND_THE_SCHEMA = {
    ("zip", "give either zip or lat and lon"), ("zip", "is not an active US ZIP code"),
    ("lat", "lat and lon must be given together"), ("lon", "lat and lon must be given together"),
    ("radius", "radius needs a place"), ("sort", "sort=distance needs a place"),
    ("network", "unknown network id"), ("page", "page × per_page"),
    # place: one of place, zip or lat/lon; and what the gazetteer (or the geocoder) knows.
    ("place", "give one of place, zip, or lat and lon"), ("place", "is not a ZIP code or a US city we know"),
    ("place", "there is more than one"), ("place", "no city called"), ("place", "is not a US state"),
    ("place", "a ZIP code is 5 digits"), ("place", "is not an active US ZIP code"),
    ("place", "street addresses cannot be searched"), ("place", "enter a ZIP or City, ST"),
}


def breaks_a_rule_beyond_the_schema(response) -> bool:
    if response.status_code != 400 or response.headers.get("content-type") != ["application/json"]:
        return False
    error = response.json().get("error") or {}
    return any(error.get("field") == field and part in (error.get("message") or "")
               for field, part in RULES_BEYOND_THE_SCHEMA)


def positive_data_acceptance_beyond_the_schema(ctx, response, case):
    """schemathesis' positive_data_acceptance, but for a 400 that names a rule beyond the schema."""
    if breaks_a_rule_beyond_the_schema(response):
        return None
    return positive_data_acceptance(ctx, response, case)


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_the_api_answers_as_its_openapi_says(case, live_api):
    case.call_and_validate(base_url=live_api, excluded_checks=[positive_data_acceptance],
                           additional_checks=[positive_data_acceptance_beyond_the_schema])


def test_an_empty_query_parameter_is_documented_as_left_out(client):
    """Found by the fuzzer: `zip=` answered 200 (an empty field is no field, as forms send them)
    while the document's pattern refused an empty zip."""
    search = openapi_document()["paths"]["/api/v1/search"]["get"]["parameters"]
    assert all(parameter["allowEmptyValue"] for parameter in search)
    empty = "&".join(f"{parameter['name']}=" for parameter in search)
    assert client.get(f"/api/v1/search?{empty}").status_code == 200


# Numbers the OpenAPI does not allow (an integer or a decimal in ASCII digits) that Python's int() and
# float() read: the fuzzer has not generated them yet, but each is a schema-violating request accepted.
LENIENT_NUMBERS = ["page=1_0", "page=%D9%A3", "per_page=%EF%BC%92", "page=%2B3", "lat=4_2&lon=-71",
                   "lat=%D9%A4%D9%A2&lon=-71", "zip=02115&radius=1_0"]


@pytest.mark.parametrize("query", LENIENT_NUMBERS)
def test_numbers_the_openapi_does_not_allow_are_refused(client, query):
    assert client.get(f"/api/v1/search?{query}").status_code == 400
