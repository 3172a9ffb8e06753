"""How one search value matches (directory/fhir/values.py): strings, tokens, references, dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from directory.fhir.errors import SearchError
from directory.fhir.parameters import PARAMS
from directory.fhir.values import date_range, matcher, split_escaped

ROOT = "https://fhir.example.org/fhir"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
NAME = {"text": "José Núñez-Ortiz, MD", "family": "Núñez-Ortiz", "given": ["José"], "suffix": ["MD"]}
SPECIALTY = {"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": "207RR0500X",
                         "display": "Rheumatology Physician"}], "text": "Rheumatology"}


def _matches(resource_type: str, name: str, value: str, values: list, modifier: str = "") -> bool:
    return matcher(PARAMS[resource_type][name], value, modifier, ROOT, NOW)(values)


@pytest.mark.parametrize(("value", "modifier", "expected"), [
    ("nunez", "", True), ("NÚÑ", "", True), ("jose", "", True), ("md", "", True), ("ortiz", "", False),
    ("ortiz", "contains", True), ("EZ-OR", "contains", True), ("José", "exact", True), ("jose", "exact", False),
    ("José Núñez-Ortiz, MD", "exact", True),
])
def test_strings_are_accent_and_case_insensitive_prefixes_of_any_part(value, modifier, expected):
    assert _matches("Practitioner", "name", value, [NAME], modifier) is expected


@pytest.mark.parametrize(("value", "modifier", "expected"), [
    ("207RR0500X", "", True), ("http://nucc.org/provider-taxonomy|207RR0500X", "", True),
    ("http://nucc.org/provider-taxonomy|", "", True), ("|207RR0500X", "", False),
    ("http://example.org|207RR0500X", "", False), ("207rr0500x", "", False),
    ("rheum", "text", True), ("RHEUMATOLOGY PHY", "text", True), ("physician", "text", False),
])
def test_tokens(value, modifier, expected):
    assert _matches("PractitionerRole", "specialty", value, [SPECIALTY], modifier) is expected


def test_a_token_without_system_matches_only_bar_code():
    assert _matches("PractitionerRole", "specialty", "|x", [{"coding": [{"code": "x"}]}])


@pytest.mark.parametrize(("value", "modifier", "expected"), [
    ("Location/loc-7", "", True), ("loc-7", "", True), ("loc-7", "Location", True), ("Location/loc-70", "", False),
    (f"{ROOT}/Location/loc-7", "", True), ("https://elsewhere.example.org/fhir/Location/loc-7", "", False),
])
def test_references(value, modifier, expected):
    assert _matches("PractitionerRole", "location", value, [{"reference": "Location/loc-7"}], modifier) is expected


@pytest.mark.parametrize(("text", "low", "high"), [
    ("2024", "2024-01-01T00:00:00", "2025-01-01T00:00:00"),
    ("2024-12", "2024-12-01T00:00:00", "2025-01-01T00:00:00"),
    ("2024-02-29", "2024-02-29T00:00:00", "2024-03-01T00:00:00"),
    ("2024-02-29T10:30", "2024-02-29T10:30:00", "2024-02-29T10:31:00"),
    ("2024-02-29T10:30:15Z", "2024-02-29T10:30:15", "2024-02-29T10:30:16"),
    ("2024-02-29T10:30:15.25+02:00", "2024-02-29T08:30:15.250000", "2024-02-29T08:30:15.260000"),
    ("2024-02-29T10:30:15-05:00", "2024-02-29T15:30:15", "2024-02-29T15:30:16"),
])
def test_a_date_stands_for_the_range_of_its_precision(text, low, high):
    assert [moment.replace(tzinfo=None).isoformat() for moment in date_range(text)] == [low, high]


UPDATED = "2025-06-15T12:00:00.000Z"


@pytest.mark.parametrize(("value", "expected"), [
    ("2025", True), ("eq2025-06", True), ("2025-06-15", True), ("2025-06-15T12:00:00Z", True),
    ("2025-06-14", False), ("ne2025-06-14", True), ("ne2025", False),
    ("gt2025-06-14", True), ("gt2025-06-15", False), ("gt2025-06-15T11:59Z", True),
    ("lt2025-06-16", True), ("lt2025-06-15", False), ("lt2025-06-15T12:00:01Z", True),
    ("ge2025-06-15", True), ("ge2025-06-16", False), ("le2025-06-15", True), ("le2025-06-14", False),
    ("sa2025-06-14", True), ("sa2025-06-15", False), ("eb2025-06-16", True), ("eb2025-06", False),
    ("ap2025-06-20", True), ("ap2024-01-01", False), ("gt2025-06-15T13:00+02:00", True),
])
def test_last_updated_prefixes(value, expected):
    assert _matches("Practitioner", "_lastUpdated", value, [UPDATED]) is expected


@pytest.mark.parametrize("value", ["xx2025", "2025-13", "2025-1-1", "20250101", "2025-06-15T25:00", "gt", "ap"])
def test_malformed_dates_are_refused(value):
    with pytest.raises(SearchError) as refused:
        _matches("Practitioner", "_lastUpdated", value, [UPDATED])
    assert (refused.value.code, refused.value.expression) == ("invalid", "_lastUpdated")


def test_escaped_separators_stay_in_the_value():
    assert split_escaped(r"a\,b,c\|d,e\\", ",") == ["a,b", "c|d", "e\\"]
