"""The database's narrowing of FHIR string and postal-code searches (directory/fhir/narrowing.py)
goes through migration 0010's indexes, on SQLite and PostgreSQL, and keeps every row that can match."""

from __future__ import annotations

import pytest

from directory.db import get_engine
from directory.fhir.narrowing import certain_selects, narrowing
from tests.fhir.plans import plans, statements_run

# Each search and the indexes its statements must use (none of them scans the table).
SEARCHES = [
    ("Practitioner", "name", ["LOVE"], {"ix_listing_name_folded", "ix_practitioner_last_name_folded",
                                        "ix_practitioner_first_name_folded", "ix_practitioner_credentials_folded",
                                        "ix_listing_name_non_ascii", "ix_practitioner_name_non_ascii"}),
    ("Practitioner", "family", ["núñ"], {"ix_listing_name_folded", "ix_practitioner_last_name_folded",
                                         "ix_listing_name_non_ascii", "ix_practitioner_name_non_ascii"}),
    ("Organization", "name", ["café"], {"ix_listing_name_folded", "ix_listing_name_non_ascii"}),
    ("Location", "address-postalcode", ["0211"], {"ix_location_zip_folded"}),
]


def _plans(app, session, resource_type, name, values) -> tuple[tuple, list[str]]:
    """The narrowing's answer (candidates, certain) and the plan of each statement it ran (the planner told not to
    scan when it can do otherwise: these tables are tiny)."""
    engine = get_engine(app)
    with statements_run(engine) as statements:
        found = narrowing(session, resource_type, name, "", values)
    return found, plans(engine, statements)


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_string_and_postal_code_searches_use_the_indexes(app, session, factory):
    ada = factory.listing(kind="practitioner", name="Ada Lovelace", first_name="Ada", last_name="Lovelace",
                          zip="02116").id
    jose = factory.listing(kind="practitioner", name="José Núñez, MD", first_name="José", last_name="Núñez",
                           zip="02115").id
    lovelacy = factory.listing(kind="practitioner", name="Lovelacy Abbott", first_name="Bo", last_name="Lovf",
                               zip="60601").id
    cafe = factory.listing(name="Café Infusión", zip="02115").id
    expected = {("Practitioner", "name"): {ada, jose}, ("Practitioner", "family"): {jose},
                ("Organization", "name"): {cafe}, ("Location", "address-postalcode"): {ada, jose, cafe}}
    for resource_type, name, values, indexes in SEARCHES:
        (found, _), plans = _plans(app, session, resource_type, name, values)
        joined = " | ".join(plans)
        assert {index for index in indexes if index in joined} == indexes, joined
        # PostgreSQL reads no table whole; SQLite scans only the partial indexes of the rows beyond ASCII.
        assert "Seq Scan" not in joined and not any("SCAN " in plan and "_non_ascii" not in plan
                                                    for plan in plans), joined
        # a superset of the matches: what starts so, and the text beyond ASCII
        assert expected[resource_type, name] <= found, (resource_type, name, found)
    (found, certain), _ = _plans(app, session, "Practitioner", "name", ["lovelace"])
    assert ada in found and jose in found  # José's row is beyond ASCII: always a candidate
    # certain: found by a prefix with every name part in ASCII (José's is tested instead)
    assert certain == {ada}
    (_, certain), _ = _plans(app, session, "Practitioner", "name", ["lovelac"])
    assert certain == {ada, lovelacy}
    (found, _), _ = _plans(app, session, "Practitioner", "family", ["lovf"])
    assert ada not in found  # 'lovelace' is not in the range of 'lovf'


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_what_the_narrowing_calls_certain(app, session, factory):
    """Only a plain prefix of `name` on Practitioner and Organization is certain (their narrowers
    read every part of the name), and never a row with text beyond ASCII."""
    ada = factory.listing(kind="practitioner", name="Ada Lovelace", first_name="Ada", last_name="Lovelace").id
    factory.listing(kind="practitioner", name="Lovisa Ñuñez", first_name="Lovisa", last_name="Ñuñez")
    cafe = factory.listing(name="Cafe Infusion").id
    factory.listing(name="Café Infusión")
    assert narrowing(session, "Practitioner", "name", "", ["love"])[1] == {ada}
    assert narrowing(session, "Practitioner", "name", "", ["ada", "LOVI"])[1] == {ada}
    assert narrowing(session, "Organization", "name", "", ["cafe"])[1] == {cafe}
    assert narrowing(session, "Practitioner", "name", "exact", ["Ada"])[1] is None
    assert narrowing(session, "Practitioner", "name", "contains", ["ove"])[1] is None
    assert narrowing(session, "Practitioner", "family", "", ["love"])[1] is None
    assert narrowing(session, "Location", "address-postalcode", "", ["0211"])[1] is None
    # The statements the database counts a name search alone with (search._text_page) say the same.
    for resource_type, values in (("Practitioner", ["love"]), ("Practitioner", ["ada", "LOVI"]),
                                  ("Organization", ["cafe"])):
        prefixed, beyond = certain_selects(session, resource_type, "name", values)
        found = set(session.execute(prefixed).scalars()) - set(session.execute(beyond).scalars())
        assert found == narrowing(session, resource_type, "name", "", values)[1], (resource_type, values)


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_a_name_search_alone_is_counted_through_the_indexes(app, client, factory):
    """`Practitioner?name` alone is counted and paged by the database in one statement
    (search._text_page) that starts from the names' indexes and reads no table whole."""
    ada = factory.listing(kind="practitioner", name="Ada Lovelace", first_name="Ada", last_name="Lovelace").id
    factory.listing(kind="practitioner", name="José Lovéz", first_name="José", last_name="Lovéz")
    engine = get_engine(app)
    with statements_run(engine) as statements:
        bundle = client.get("/fhir/Practitioner?name=love").get_json()
    assert bundle["total"] == 2 and f"prac-{ada}" in {e["resource"]["id"] for e in bundle["entry"]}
    counted = [i for i, (statement, _) in enumerate(statements) if "count(*) OVER ()" in statement]
    assert len(counted) == 1, [statement for statement, _ in statements]
    plan = plans(engine, [statements[counted[0]]])[0]
    assert {"ix_listing_name_folded", "ix_practitioner_last_name_folded"} <= set(plan.replace("(", " ").split()), plan
    assert "Seq Scan" not in plan and "SCAN listing" not in plan, plan
