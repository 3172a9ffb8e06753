"""Browser-facing protections: CSRF tokens on every form that changes something (Flask-WTF), and
security headers on every response (flask-talisman).

Every POST needs the `csrf_token` from the page that showed the form (`{{ csrf_token() }}` in
templates). The JSON API is read-only (GET), so it is unaffected.

Headers: a Content-Security-Policy that allows scripts, styles and fonts from our own origin only
(no inline script or style: what was inline lives in static files), images from us, `data:` and the
map tile server (`MAP_TILE_URL`), and no framing at all (`frame-ancestors 'none'`, so staff one-click
buttons cannot be framed); X-Content-Type-Options nosniff; Referrer-Policy
strict-origin-when-cross-origin; HSTS (one year) on responses to requests that came over TLS. The app
does not redirect to HTTPS itself: TLS ends at the proxy in front of it (`TRUSTED_PROXIES`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, render_template_string, request, url_for
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFError, CSRFProtect

csrf = CSRFProtect()

_CSRF_PAGE = """{% extends "base.html" %}
{% block title %}Form expired{% endblock %}
{% block main %}
<h1>We could not accept this form</h1>
<p class="flash flash-error" role="alert">Your form was missing its security token, or the token had expired
  ({{ reason }}). Nothing was sent.</p>
<p>Please go back, reload the page and send the form again.</p>
<p><a href="{{ back }}">{{ back_label }}</a></p>
{% endblock %}
"""


def _back_link() -> tuple[str, str]:
    lid = (request.view_args or {}).get("lid")
    if request.endpoint == "providers.report" and lid is not None:
        return url_for("providers.provider", lid=lid), "Back to the listing"
    return url_for("public.search"), "Back to search"


def content_security_policy(tile_url: str | None) -> dict[str, str]:
    """The policy for every page; the map tile server's origin may serve images."""
    images = ["'self'", "data:"]
    parts = urlsplit(tile_url or "")
    if parts.scheme in ("http", "https") and parts.netloc:
        # Leaflet's {s} placeholder names sub-domains (a., b., c.): any sub-domain may serve tiles.
        images.append(f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}")
    return {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": " ".join(images),
        "connect-src": "'self'",
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    # Cookie flags are set by directory.web.staff.auth (Secure outside development and tests).
    Talisman(app, force_https=False, session_cookie_secure=False, frame_options="DENY",
             content_security_policy=content_security_policy(app.config.get("MAP_TILE_URL")),
             referrer_policy="strict-origin-when-cross-origin", strict_transport_security=True,
             strict_transport_security_include_subdomains=False)

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError):
        back, back_label = _back_link()
        reason = (error.description or "invalid token").rstrip(".")
        return render_template_string(_CSRF_PAGE, reason=reason, back=back, back_label=back_label), 400
