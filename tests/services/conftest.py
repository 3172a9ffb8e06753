"""Fixtures of the geocoding service tests (tests/services/test_geocoding.py), defined with the
other geocoding tests' in tests/geocoding/apps.py."""

from tests.geocoding.apps import geo_app, geo_session, loopback  # noqa: F401  (fixtures)
