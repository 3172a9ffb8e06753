"""Calls to the configured geocoder through geopy, one at a time at most every GEOCODER_MIN_DELAY
seconds (geopy's RateLimiter, per process), with geopy's errors turned into ours."""

from __future__ import annotations

import inspect
import threading

from geopy.exc import (
    GeocoderAuthenticationFailure,
    GeocoderInsufficientPrivileges,
    GeocoderQueryError,
    GeocoderRateLimited,
    GeocoderServiceError,
)
from geopy.extra.rate_limiter import RateLimiter

from directory.geocoding.sanity import Match, read_match
from directory.geocoding.settings import GeocoderSettings, build_geopy

US_AND_TERRITORIES = ("us", "pr", "gu", "vi", "as", "mp", "um")


class GeocodingError(Exception):
    """Geocoding could not be done."""


class GeocoderOff(GeocodingError):
    """No geocoder is configured (GEOCODER=off)."""


class GeocodingFailed(GeocodingError):
    """The geocoder did not answer usably: unreachable, timed out, a server error, rate limited
    (`retry_after`, seconds, when it said), or refusing our key (`permanent`: retrying will not help)."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Geocoder:
    """The configured geocoder: `lookup(text)` returns the best Match or None (no match)."""

    def __init__(self, settings: GeocoderSettings):
        self.settings = settings
        self.name = settings.name
        self.geopy = build_geopy(settings)
        accepted = inspect.signature(self.geopy.geocode).parameters
        # Ask for what the sanity rules read, and for US answers where the API can be told.
        # Nominatim files the territories under their own country codes (Puerto Rico is "pr").
        wanted = {"exactly_one": True, "addressdetails": True, "country_codes": list(US_AND_TERRITORIES),
                  "country_bias": "USA"}
        self.options = {key: value for key, value in wanted.items() if key in accepted}
        self._call = RateLimiter(self.geopy.geocode, min_delay_seconds=settings.min_delay, max_retries=0,
                                 swallow_exceptions=False)
        self._lock = threading.Lock()

    def lookup(self, text: str) -> Match | None:
        """Geocode one free-text address; None when the geocoder found nothing. Raises GeocodingFailed."""
        try:
            with self._lock:  # one call at a time per process, so the delay holds across threads
                found = self._call(text, **self.options)
        except GeocoderRateLimited as error:
            raise GeocodingFailed(f"{self.name} is limiting our rate: {error}",
                                  retry_after=error.retry_after) from None
        except (GeocoderAuthenticationFailure, GeocoderInsufficientPrivileges) as error:
            raise GeocodingFailed(f"{self.name} refused our credentials: {error}", permanent=True) from None
        except GeocoderQueryError as error:
            raise GeocodingFailed(f"{self.name} refused the query: {error}", permanent=True) from None
        except GeocoderServiceError as error:  # timeouts, unreachable, 5xx, unparsable answers
            raise GeocodingFailed(f"{self.name} failed: {type(error).__name__}: {error}") from None
        if found is None:
            return None
        return read_match(self.name, found.latitude, found.longitude, found.raw)
