"""Cross-site request forgery protection for every form that changes something (Flask-WTF).

Every POST needs the `csrf_token` from the page that showed the form (`{{ csrf_token() }}` in
templates). The JSON API is read-only (GET), so it is unaffected.
"""

from __future__ import annotations

from flask import Flask, render_template_string, request, url_for
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


def init_app(app: Flask) -> None:
    csrf.init_app(app)

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError):
        back, back_label = _back_link()
        reason = (error.description or "invalid token").rstrip(".")
        return render_template_string(_CSRF_PAGE, reason=reason, back=back, back_label=back_label), 400
