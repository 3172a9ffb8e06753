"""The public shapes: what they leave out, how they are built from rows, and the CSV row of a card."""

from __future__ import annotations

import json
from datetime import date

from directory.read.shapes import (
    CSV_COLUMNS,
    ListingCard,
    ListingDetail,
    LocationPublic,
    NetworkRef,
    VerificationPublic,
    construct,
    csv_row,
)

BOSTON = {"id": 7, "name": None, "address": "1 Main St", "city": "Boston", "state": "MA", "zip": "02115",
          "lat": 42.34, "lon": -71.1, "phone": "(617) 555-0100", "fax": None, "geo_source": "zip_centroid"}


def card(**changes) -> ListingCard:
    values = {"id": 1, "kind": "organization", "name": "Fenway Infusion", "npi": "1234567893",
              "location": LocationPublic(**BOSTON), "specialties": [], "networks": [NetworkRef(id=3, name="Select")],
              "accepting_new_patients": True, "telehealth": False, "languages": ["en"],
              "last_verified": date(2026, 1, 2), "stale": False, "demo": False, "distance_mi": None}
    return ListingCard(**(values | changes))


def test_construct_gives_the_model_validation_would():
    built = construct(LocationPublic, dict(BOSTON))
    assert built == LocationPublic(**BOSTON)
    assert built.model_dump() == BOSTON
    assert built.model_fields_set == set(BOSTON)


def test_a_card_without_a_place_searched_has_no_distance_key_and_dates_are_iso():
    without = json.loads(card().model_dump_json())
    assert "distance_mi" not in without
    assert without["last_verified"] == "2026-01-02"
    assert without["location"]["fax"] is None  # a missing value of a field that is always there stays null
    assert "distance_basis" not in without
    near = json.loads(card(distance_mi=0.0, distance_basis="zip_centroid").model_dump_json())
    assert (near["distance_mi"], near["distance_basis"]) == (0.0, "zip_centroid")


def test_no_public_shape_can_carry_who_verified():
    assert set(VerificationPublic.model_fields) == {"last_verified", "method", "source"}
    assert "verified_by" not in ListingDetail.model_fields


def test_the_schema_of_a_left_out_field_has_no_null_and_no_default():
    schema = ListingCard.model_json_schema(mode="serialization")
    assert schema["properties"]["distance_mi"] == {
        "type": "number", "minimum": 0, "title": "Distance Mi",
        "description": schema["properties"]["distance_mi"]["description"]}
    assert "distance_mi" not in schema["required"] and "location" in schema["required"]
    assert schema["additionalProperties"] is False


def test_a_csv_row_has_a_cell_per_column():
    row = csv_row(card(distance_mi=2.5, distance_basis="street"))
    assert dict(zip(CSV_COLUMNS, row, strict=True)) == {
        "id": 1, "name": "Fenway Infusion", "kind": "organization", "npi": "1234567893", "distance_mi": 2.5,
        "distance_basis": "street",
        "address": "1 Main St", "city": "Boston", "state": "MA", "zip": "02115", "phone": "(617) 555-0100",
        "fax": "", "specialties": "", "networks": "Select", "accepting_new_patients": "yes", "telehealth": "no",
        "last_verified": "2026-01-02", "stale": "no",
    }
    row = csv_row(card(location=None, last_verified=None, stale=True))
    assert row[CSV_COLUMNS.index("distance_mi")] == "" and row[CSV_COLUMNS.index("address")] == ""
    assert row[CSV_COLUMNS.index("distance_basis")] == ""
    assert (row[CSV_COLUMNS.index("last_verified")], row[CSV_COLUMNS.index("stale")]) == ("", "yes")
