"""Security headers on every response (flask-talisman): a CSP without inline script or style that
forbids framing, nosniff, a referrer policy, HSTS over TLS only; and no inline script or style in
any page we render."""

from __future__ import annotations

import re

import pytest

from directory.web.security import content_security_policy
from tests.web.test_staff_auth import make_staff, sign_in, text

PAGES = ["/", "/?zip=02115", "/what-to-expect", "/api/v1/search?zip=02115", "/api/v1/openapi.json",
         "/staff/login", "/no-such-page", "/export.csv?zip=02115", "/referrals?zip=02115"]


def _policy(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: " ".join(part.split()[1:]) for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("url", PAGES)
def test_every_response_carries_the_headers(client, factory, url):
    factory.listing()
    response = client.get(url)
    policy = _policy(response)
    assert policy["frame-ancestors"] == "'none'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP: no HSTS


def test_hsts_over_tls(client):
    response = client.get("/", base_url="https://localhost")
    max_age = int(response.headers["Strict-Transport-Security"].removeprefix("max-age="))
    assert max_age >= 365 * 24 * 3600


def test_the_map_tile_server_may_serve_images():
    policy = content_security_policy("https://{s}.tile.example.org/{z}/{x}/{y}.png")
    assert policy["img-src"] == "'self' data: https://*.tile.example.org"
    assert content_security_policy("")["img-src"] == "'self' data:"


INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.I)


def test_no_page_has_inline_script_or_style(app, client, session, factory):
    listing = factory.listing()
    urls = ["/", "/?zip=02115&radius=25", f"/providers/{listing.id}", "/referrals?zip=02115", "/what-to-expect",
            "/staff/login"]
    for url in urls:
        assert not INLINE.search(text(client.get(url))), url
    make_staff(session)
    staff = app.test_client()
    assert sign_in(staff).status_code == 303
    for url in ("/staff/", "/staff/verification", "/staff/audit", "/staff/imports", "/staff/accounts",
                f"/staff/listings/{listing.id}/edit", "/staff/listings/new?kind=organization", "/staff/password"):
        body = text(staff.get(url))
        assert not INLINE.search(body), (url, INLINE.search(body).group(0))
