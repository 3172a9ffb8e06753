"""Configuration read once from the environment by the app factory."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_SECRET = "dev-only-secret-change-me"
GEOCODER_DEFAULTS = {"GEOCODER_DOMAIN": "", "GEOCODER_SCHEME": "https", "GEOCODER_API_KEY": "",
                     "GEOCODER_USER_AGENT": "ivig-provider-directory/1.0", "GEOCODER_MIN_DELAY": "1.0",
                     "GEOCODER_TIMEOUT": "10", "GEOCODER_MAX_DISTANCE_MI": "25"}
# Largest request body accepted, in bytes (the staff import page allows its own 5 MB).
DEFAULT_MAX_CONTENT_LENGTH = 1024 * 1024


def from_environment(instance_path: str) -> dict:
    """Return the settings named in DESIGN.md, with development defaults under `instance/`."""
    instance = Path(instance_path)
    return {
        "DATABASE_URL": os.environ.get("DATABASE_URL")
        or f"sqlite:///{instance / 'directory.sqlite3'}",
        "INDEX_DIR": os.environ.get("INDEX_DIR") or str(instance / "index"),
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEFAULT_SECRET),
        "GEOCODER": os.environ.get("GEOCODER", "off"),
        # The geocoder's service and manners (checked at start by directory.geocoding.settings).
        **{key: os.environ.get(key, default) for key, default in GEOCODER_DEFAULTS.items()},
        "SEARCH_BACKEND": os.environ.get("SEARCH_BACKEND", "whoosh"),
        # SQLite only: megabytes of the database file read through a memory map (0: read() calls).
        "SQLITE_MMAP_MB": _whole("SQLITE_MMAP_MB", 2048),
        "ENV": os.environ.get("DIRECTORY_ENV", "development"),
        # Largest request body, in bytes: larger ones are refused with 413 before being read.
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH") or DEFAULT_MAX_CONTENT_LENGTH),
        # Reverse proxies in front of the app that set X-Forwarded-For/-Proto/-Host (0: none; the
        # headers are then ignored, since any client could send them).
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", "0") or 0),
        # An error in a request is the 500 page naming an incident (its traceback in the log), in
        # development and under --debug too: never the traceback in the response.
        "PROPAGATE_EXCEPTIONS": False,
        # Rate limits per client on expensive requests (Flask-Limiter's notation): CSV exports and
        # printable lists, and search pages beyond RATELIMIT_DEEP_PAGE. Counters are in memory (per
        # worker) unless RATELIMIT_STORAGE_URI names a shared store such as redis://host:6379.
        "RATELIMIT_ENABLED": os.environ.get("RATELIMIT_ENABLED", "true").lower() not in ("0", "false", "no"),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI") or "memory://",
        "EXPORT_RATE_LIMIT": os.environ.get("EXPORT_RATE_LIMIT") or "10 per minute",
        "DEEP_PAGE_RATE_LIMIT": os.environ.get("DEEP_PAGE_RATE_LIMIT") or "30 per minute",
        "RATELIMIT_DEEP_PAGE": int(os.environ.get("RATELIMIT_DEEP_PAGE") or 10),
        # Map tiles come from this server (empty: no tiles; markers and the list still work).
        "MAP_TILE_URL": os.environ.get("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
        "MAP_TILE_ATTRIBUTION": os.environ.get(
            "MAP_TILE_ATTRIBUTION", "&copy; OpenStreetMap contributors"
        ),
        # Harvesting payers' Plan-Net directories: seconds between requests to a source, and
        # seconds before a request to it times out.
        "HARVEST_MIN_INTERVAL": _seconds("HARVEST_MIN_INTERVAL", 0.1),
        "HARVEST_TIMEOUT": _seconds("HARVEST_TIMEOUT", 30.0),
    }


def _whole(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise RuntimeError(f"{name} must be a whole number (0 or more), not {raw!r}")
    return int(raw)


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise RuntimeError(f"{name} must be a number of seconds (0 or more), not {raw!r}")
    return value


def check_production_secret(settings: dict) -> None:
    """Refuse to start outside development with the default secret key."""
    if settings.get("ENV") != "development" and settings.get("SECRET_KEY") in (
        None,
        "",
        DEFAULT_SECRET,
    ):
        raise RuntimeError("SECRET_KEY must be set outside development (DIRECTORY_ENV != development)")
