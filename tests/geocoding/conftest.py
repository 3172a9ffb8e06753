"""Fixtures for the geocoding tests (defined in tests/geocoding/apps.py, shared with
tests/services/test_geocoding.py)."""

from tests.geocoding.apps import geo_app, geo_session, loopback  # noqa: F401  (fixtures)
