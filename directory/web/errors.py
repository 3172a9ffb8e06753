"""One JSON error shape for the API: {"error": {"code", "message", "field"}} with a 4xx status."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from directory.search.query import QueryError
from directory.search.table import SnapshotFormatError


def error_response(status: int, code: str, message: str, field: str | None = None):
    body = {"error": {"code": code, "message": message, "field": field}}
    return jsonify(body), status


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def init_app(app: Flask) -> None:
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
        if not _wants_json():
            if error.code and error.code >= 400:
                return render_template("error.html", error=error), error.code
            return error
        code = (error.name or "error").lower().replace(" ", "_")
        return error_response(error.code or 500, code, error.description or error.name)
