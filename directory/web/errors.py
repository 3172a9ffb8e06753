"""One JSON error shape for the API: {"error": {"code", "message", "field"}} with a 4xx status.

Pages get the site's error page instead. Either way the headers an HTTP error carries (`Allow` on
405, `Retry-After` on 429 and 503) are kept. An internal error is a plain 500 naming an incident id;
its traceback goes to the log under that id, never into the response (in development too).
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    InternalServerError,
    RequestEntityTooLarge,
    ServiceUnavailable,
)

from directory.search import SnapshotFormatError
from directory.search.query import QueryError


class NulCharacter(BadRequest):
    """A field holding NUL, which no text may contain (PostgreSQL refuses it in any string)."""

    def __init__(self, field: str):
        self.field = field.replace("\x00", "")
        super().__init__(f"The field {self.field!r} contains a NUL character (%00), which no text may contain.")


def error_response(status: int, code: str, message: str, field: str | None = None, headers=None):
    body = {"error": {"code": code, "message": message, "field": field}}
    return jsonify(body), status, headers or {}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def error_headers(error: HTTPException) -> list[tuple[str, str]]:
    """The headers `error` would send, but for its own Content-Type (ours replaces its body)."""
    return [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]


def size_in_words(size: int) -> str:
    """1048576 -> '1 MB', 500000 -> '488 KB', 1536 -> '1.5 KB', 100 -> '100 bytes' (1 KB = 1024 bytes)."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value >= 10 or value.is_integer() else f"{value:.1f} {unit}"
    return f"{size} bytes"


def too_large(limit: int | None) -> RequestEntityTooLarge:
    """A 413 that says what is allowed."""
    if limit is None:
        return RequestEntityTooLarge()
    return RequestEntityTooLarge(f"The request is too large: at most {size_in_words(limit)} may be sent.")


def _explained(error: RequestEntityTooLarge) -> RequestEntityTooLarge:
    """Werkzeug's 413 (raised while reading a form) with the limit that was passed: the body's, or
    within a smaller body the form's (text per field, number of fields)."""
    if error.description != RequestEntityTooLarge.description:
        return error
    limit, length = request.max_content_length, request.content_length
    if limit is not None and (length is None or length > limit):
        return too_large(limit)
    text, parts = request.max_form_memory_size, request.max_form_parts
    if text is None or parts is None:
        return error
    return RequestEntityTooLarge(f"The form is too large: its text may be at most {size_in_words(text)} per "
                                 f"field, in at most {parts} fields.")


def incident_message(incident: str) -> str:
    return (f"Something went wrong on our side. It was logged as incident {incident}; please try again "
            "later, and quote that number if you contact us.")


def init_app(app: Flask) -> None:
    @app.errorhandler(InternalServerError)
    def _internal_error(error: InternalServerError):
        incident = secrets.token_hex(6)
        cause = error.original_exception or error
        app.logger.error("incident %s: %s %s failed", incident, request.method, request.path,
                         exc_info=(type(cause), cause, cause.__traceback__))
        message = incident_message(incident)
        if _wants_json():
            return error_response(500, "internal_error", message)
        try:
            return render_template("error.html", error=InternalServerError(message)), 500
        except Exception:  # the page itself cannot be drawn: plain text, still without detail
            app.logger.exception("incident %s: the error page failed too", incident)
            return Response(message + "\n", status=500, mimetype="text/plain")

    @app.before_request
    def _refuse_large_bodies():
        # Every route, whether or not it reads its body (the API's GETs never do). Runs after the
        # blueprints' url_value_preprocessors, so a page that allows more (imports) is honoured.
        limit = request.max_content_length
        if limit is not None and request.content_length is not None and request.content_length > limit:
            raise too_large(limit)

    @app.before_request
    def _refuse_nul_characters():
        # PostgreSQL refuses NUL in any string it is sent (a 500 from the driver): no form field, nor
        # a staff page's filter, may hold one. Searches drop control characters themselves; FHIR
        # answers its own clients in its own shape.
        sources = [request.form] if request.method == "POST" and request.blueprint != "fhir" else []
        if (request.blueprint or "").startswith("staff"):
            sources.append(request.args)
        for source in sources:
            for name, value in source.items(multi=True):
                if "\x00" in name or "\x00" in value:
                    raise NulCharacter(name)

    @app.errorhandler(QueryError)
    def _query_error(error: QueryError):
        return error_response(400, error.code, error.message, error.field)

    @app.errorhandler(SnapshotFormatError)
    def _index_needs_rebuild(error: SnapshotFormatError):
        # An operator's job, not the user's: say so plainly, with 503 so load balancers notice.
        app.logger.error("%s", error)
        if _wants_json():
            return error_response(503, "index_unavailable", "search is being rebuilt; try again soon")
        return render_template("error.html", error=ServiceUnavailable(
            "Search is being rebuilt. Please try again in a few minutes.")), 503

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if isinstance(error, RequestEntityTooLarge):
            error = _explained(error)
        if error.code is None or error.code < 400:
            return error
        headers = error_headers(error)
        if not _wants_json():
            return render_template("error.html", error=error), error.code, headers
        code = (error.name or "error").lower().replace(" ", "_")
        if isinstance(error, RequestEntityTooLarge):
            code = "request_too_large"
        elif isinstance(error, NulCharacter):
            code = "nul_character"
        return error_response(error.code, code, error.description or error.name, getattr(error, "field", None),
                              headers=headers)
