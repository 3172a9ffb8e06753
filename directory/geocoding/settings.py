"""The GEOCODER_* settings, checked once when the app starts: a bad one refuses to start.

`GEOCODER` is `off` (the default) or the name of a geopy geocoder (`nominatim`, `photon`, `pelias`,
or any other that `geopy.geocoders.get_geocoder_for_service` knows and that takes the settings
given). The others: `GEOCODER_DOMAIN` (host and port), `GEOCODER_SCHEME` (`http` or `https`),
`GEOCODER_API_KEY`, `GEOCODER_USER_AGENT`, `GEOCODER_MIN_DELAY` (seconds between calls, >= 0),
`GEOCODER_TIMEOUT` (seconds, > 0) and `GEOCODER_MAX_DISTANCE_MI` (miles from the ZIP's centre, > 0).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from geopy.exc import ConfigurationError, GeocoderNotFound
from geopy.geocoders import get_geocoder_for_service

from directory.config import GEOCODER_DEFAULTS

OFF = "off"
DEFAULTS = {"GEOCODER": OFF, **GEOCODER_DEFAULTS}
DEFAULT_USER_AGENT = DEFAULTS["GEOCODER_USER_AGENT"]
# Setting -> the keyword geopy's geocoder classes take it as.
KEYWORDS = {"GEOCODER_DOMAIN": "domain", "GEOCODER_SCHEME": "scheme", "GEOCODER_API_KEY": "api_key",
            "GEOCODER_USER_AGENT": "user_agent", "GEOCODER_TIMEOUT": "timeout"}


class GeocoderSettingError(RuntimeError):
    """A GEOCODER_* setting the app cannot start with; the message names the setting."""


@dataclass(frozen=True)
class GeocoderSettings:
    name: str  # "off" or a geopy service name, lower case
    domain: str = ""
    scheme: str = "https"
    api_key: str = ""
    user_agent: str = DEFAULT_USER_AGENT
    min_delay: float = 1.0  # seconds between two calls
    timeout: float = 10.0  # seconds per call
    max_distance_mi: float = 25.0  # farthest accepted point from the ZIP's centroid, miles

    @property
    def enabled(self) -> bool:
        return self.name != OFF

    def geopy_keywords(self) -> dict:
        """The keywords the geopy class is built with (only settings that were given)."""
        values = {"domain": self.domain, "scheme": self.scheme, "api_key": self.api_key,
                  "user_agent": self.user_agent, "timeout": self.timeout}
        return {key: value for key, value in values.items() if value not in ("", None)}


def _number(config, key: str, *, minimum: float, strict: bool) -> float:
    raw = config.get(key, DEFAULTS[key])
    raw = DEFAULTS[key] if raw in (None, "") else raw
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise GeocoderSettingError(f"{key} must be a number of {'miles' if key.endswith('_MI') else 'seconds'}, "
                                   f"not {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")) or value < minimum or (strict and value == minimum):
        raise GeocoderSettingError(f"{key} must be {'more than' if strict else 'at least'} {minimum:g}, not {raw!r}")
    return value


def _text(config, key: str) -> str:
    value = config.get(key, DEFAULTS[key])
    return DEFAULTS[key] if value is None else str(value).strip()


def read_settings(config) -> GeocoderSettings:
    """The geocoder settings from the app's config; raises GeocoderSettingError naming the bad one."""
    name = _text(config, "GEOCODER").lower() or OFF
    scheme = _text(config, "GEOCODER_SCHEME").lower() or "https"
    if scheme not in ("http", "https"):
        raise GeocoderSettingError(f"GEOCODER_SCHEME must be http or https, not {scheme!r}")
    domain = _text(config, "GEOCODER_DOMAIN")
    if domain and ("://" in domain or "/" in domain.split(":", 1)[0] or any(c.isspace() for c in domain)):
        raise GeocoderSettingError(f"GEOCODER_DOMAIN is a host and port such as nominatim.example.org:8080 "
                                   f"(the scheme goes in GEOCODER_SCHEME), not {domain!r}")
    settings = GeocoderSettings(
        name=name, domain=domain, scheme=scheme, api_key=_text(config, "GEOCODER_API_KEY"),
        user_agent=_text(config, "GEOCODER_USER_AGENT") or DEFAULT_USER_AGENT,
        min_delay=_number(config, "GEOCODER_MIN_DELAY", minimum=0, strict=False),
        timeout=_number(config, "GEOCODER_TIMEOUT", minimum=0, strict=True),
        max_distance_mi=_number(config, "GEOCODER_MAX_DISTANCE_MI", minimum=0, strict=True),
    )
    if settings.enabled:
        geocoder_class(settings)  # an unknown name, or settings the class cannot take, fail now
        build_geopy(settings)
    return settings


def geocoder_class(settings: GeocoderSettings) -> type:
    """The geopy class for `settings.name`; refuses names geopy does not know and settings the
    class does not take (or lacks and needs)."""
    try:
        cls = get_geocoder_for_service(settings.name)
    except GeocoderNotFound:
        raise GeocoderSettingError(
            f"GEOCODER={settings.name!r} is not a geocoder geopy knows; use off, nominatim, photon, pelias "
            f"or another name from geopy.geocoders.SERVICE_TO_GEOCODER") from None
    parameters = inspect.signature(cls.__init__).parameters
    given = settings.geopy_keywords()
    # The domain, the key and a scheme other than the default name a service: refuse them if unused.
    named = {"GEOCODER_DOMAIN": "domain", "GEOCODER_API_KEY": "api_key"}
    if settings.scheme != "https":
        named["GEOCODER_SCHEME"] = "scheme"
    for key, keyword in named.items():
        if keyword in given and keyword not in parameters:
            raise GeocoderSettingError(f"{key} is set but GEOCODER={settings.name} does not take it")
    for keyword, parameter in parameters.items():
        required = parameter.default is inspect.Parameter.empty and parameter.kind in (
            inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD) and keyword != "self"
        if required and keyword not in given:
            setting = next((k for k, v in KEYWORDS.items() if v == keyword), keyword)
            raise GeocoderSettingError(f"GEOCODER={settings.name} needs {setting}")
    return cls


def build_geopy(settings: GeocoderSettings):
    """A geopy geocoder instance for `settings` (no network call is made)."""
    cls = geocoder_class(settings)
    parameters = inspect.signature(cls.__init__).parameters
    keywords = {k: v for k, v in settings.geopy_keywords().items() if k in parameters}
    try:
        return cls(**keywords)
    except (ConfigurationError, TypeError, ValueError) as error:
        raise GeocoderSettingError(f"GEOCODER={settings.name} cannot be set up: {error}") from None
