"""Expensive anonymous requests: CSV exports, printable lists and deep pages are rate-limited per
client (429 with Retry-After); no search serves results past page x per_page = 10,000 (400)."""

from __future__ import annotations

import pytest

from directory.search.query import MAX_DEPTH
from tests.backends import close_app, make_app
from tests.web.test_api import assert_error
from tests.web.test_openapi import check
from tests.web.test_staff_auth import make_staff, sign_in, text

LOW = {"EXPORT_RATE_LIMIT": "2 per minute", "DEEP_PAGE_RATE_LIMIT": "3 per minute", "RATELIMIT_DEEP_PAGE": 2}


@pytest.fixture
def limited(tmp_path):
    app = make_app("whoosh", tmp_path, **LOW)
    yield app
    close_app(app)


def from_address(app, address: str, **environ):
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR=address, **environ)
    return client


def test_the_defaults_are_documented_settings(tmp_path):
    from directory.config import from_environment

    defaults = from_environment(str(tmp_path))
    assert defaults["EXPORT_RATE_LIMIT"] == "10 per minute"
    assert defaults["DEEP_PAGE_RATE_LIMIT"] == "30 per minute"
    assert defaults["RATELIMIT_DEEP_PAGE"] == 10
    assert defaults["RATELIMIT_STORAGE_URI"] == "memory://"


def test_the_settings_are_read_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPORT_RATE_LIMIT", "5 per hour")
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "memory://")
    monkeypatch.setenv("RATELIMIT_ENABLED", "false")
    app = make_app("whoosh", tmp_path)
    try:
        assert app.config["EXPORT_RATE_LIMIT"] == "5 per hour" and app.config["RATELIMIT_ENABLED"] is False
        client = app.test_client()
        assert all(client.get("/export.csv?q=a").status_code == 200 for _ in range(7))
    finally:
        close_app(app)


@pytest.mark.parametrize("url", ["/export.csv?q=infusion", "/referrals?q=infusion"])
def test_exports_are_limited_per_client_with_retry_after(limited, url):
    client = from_address(limited, "203.0.113.7")
    assert [client.get(url).status_code for _ in range(2)] == [200, 200]
    refused = client.get(url)
    assert refused.status_code == 429 and refused.mimetype == "text/html"
    assert 1 <= int(refused.headers["Retry-After"]) <= 61  # the rest of the minute
    assert "Too many exports of whole result sets" in text(refused) and "at most 2 per 1 minute" in text(refused)
    assert from_address(limited, "203.0.113.8").get(url).status_code == 200  # another client


def test_deep_pages_are_limited_shallow_ones_are_not(limited):
    client = from_address(limited, "198.51.100.1")
    assert all(client.get("/api/v1/search?q=a&page=2").status_code == 200 for _ in range(10))
    assert [client.get("/api/v1/search?q=a&page=3").status_code for _ in range(3)] == [200] * 3
    refused = client.get("/api/v1/search?q=a&page=4")
    error = assert_error(refused, 429, None)
    assert error["code"] == "too_many_requests" and "deep pages" in error["message"]
    check(refused, "/api/v1/search")  # the shape the OpenAPI documents for 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert from_address(limited, "198.51.100.1").get("/?q=a&page=3").status_code == 200  # the page counts apart
    assert client.get("/api/v1/search?q=a&page=1").status_code == 200


def test_behind_trusted_proxies_each_forwarded_client_has_its_own_limit(tmp_path):
    app = make_app("whoosh", tmp_path, TRUSTED_PROXIES=1, **LOW)
    try:
        def export(forwarded: str) -> int:
            return from_address(app, "10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded).get("/export.csv?q=a").status_code

        assert [export("192.0.2.1") for _ in range(3)] == [200, 200, 429]
        assert export("192.0.2.2") == 200
        assert export("2001:db8::1") == 200 and export("2001:db8::2") == 200  # one IPv6 /64 is one client
        assert export("2001:db8::3") == 429
    finally:
        close_app(app)


def test_without_trusted_proxies_forwarded_addresses_are_ignored(limited):
    def export(forwarded: str) -> int:
        return from_address(limited, "10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded).get("/export.csv?q=a").status_code

    assert [export("192.0.2.1"), export("192.0.2.2"), export("192.0.2.3")] == [200, 200, 429]


def test_signed_in_staff_are_not_limited(limited, session):
    from sqlmodel import Session

    from directory.db import get_engine

    with Session(get_engine(limited)) as staff_session:
        make_staff(staff_session)
    client = from_address(limited, "203.0.113.9")
    assert sign_in(client).status_code == 303
    assert all(client.get("/export.csv?q=a").status_code == 200 for _ in range(5))


@pytest.mark.parametrize("url", ["/api/v1/search", "/"])
def test_a_page_past_the_depth_cap_is_a_400_naming_the_limit(client, url):
    assert MAX_DEPTH == 10_000
    assert client.get(f"{url}?q=a&page=100&per_page=100").status_code == 200
    assert client.get(f"{url}?q=a&page=10000&per_page=1").status_code == 200
    response = client.get(f"{url}?q=a&page=101&per_page=100")
    assert response.status_code == 400
    if url == "/":
        assert "page × per_page may be at most 10,000" in text(response)
    else:
        error = assert_error(response, 400, "page")
        assert error["code"] == "page_too_deep" and "at most 10,000" in error["message"]


def test_the_limiter_is_only_asked_about_requests_it_may_limit(limited, monkeypatch):
    """directory/web/limits.py overrides Flask-Limiter's per-request check so that a request that
    is never limited skips it: the method it overrides must still be the one Flask-Limiter calls."""
    from flask_limiter import Limiter

    asked = []
    original = Limiter._check_request_limit
    monkeypatch.setattr(Limiter, "_check_request_limit",
                        lambda self, *args, **kwargs: (asked.append(1), original(self, *args, **kwargs))[1])
    client = from_address(limited, "192.0.2.7")
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/v1/search?q=clinic").status_code == 200
    assert asked == []
    for _ in range(3):
        assert client.get("/api/v1/search?q=clinic&page=3").status_code == 200
    assert asked == [1, 1, 1]
    assert client.get("/api/v1/search?q=clinic&page=3").status_code == 429
