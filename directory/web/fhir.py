"""The FHIR API (/fhir/): Plan-Net resources, read-only, public, JSON only.

Errors are OperationOutcomes, also for what routing refuses under /fhir/ (a write: 405 with
Allow; a path that names nothing: 404), answered by an app-wide hook before the site's handlers.
The routes are GET only but one: `POST [type]/_search`, FHIR's search with the parameters in a
form body. It is exempt from CSRF protection (which guards the site's forms) because it changes
nothing, needs no sign-in, reads no cookie and answers JSON a cross-site form cannot read.
Nothing here logs a request: Plan-Net's privacy rule is that no log ties a client to a query. The
development server's access log (werkzeug's) would: a filter drops its lines for /fhir/ requests.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import date
from importlib.metadata import PackageNotFoundError, version

import orjson
from flask import Blueprint, current_app, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from directory.db import request_session
from directory.fhir.capability import capability_statement
from directory.fhir.codes import DEFAULT_CANONICAL_BASE, Canonicals
from directory.fhir.dispatch import TYPES
from directory.fhir.read import Missing, read
from directory.fhir.search import SearchError, search
from directory.web.errors import error_headers
from directory.web.security import csrf

bp = Blueprint("fhir", __name__, url_prefix="/fhir")

FHIR_JSON = "application/fhir+json"
JSON_TYPES = (FHIR_JSON, "application/json")
JSON_FORMATS = {"json", "application/json", FHIR_JSON}
FHIR_VERSIONS = {"4.0", "4.0.1"}


_FHIR_REQUEST_LINE = re.compile(r'"[A-Z]+ /fhir(?:[/?# ]|$)')


class _NoFhirAccessLines(logging.Filter):
    """Drops the development server's access-log lines ('<address> - - [...] "GET /fhir/..."')."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _FHIR_REQUEST_LINE.search(record.getMessage())


_ACCESS_FILTER = _NoFhirAccessLines()


@bp.record_once
def _configure(state) -> None:
    if _ACCESS_FILTER not in logging.getLogger("werkzeug").filters:
        logging.getLogger("werkzeug").addFilter(_ACCESS_FILTER)
    # Read once, when the app is built: where our own definitions live.
    state.app.config.setdefault("FHIR_CANONICAL_BASE",
                                os.environ.get("FHIR_CANONICAL_BASE") or DEFAULT_CANONICAL_BASE)


def _canonicals() -> Canonicals:
    return Canonicals(current_app.config["FHIR_CANONICAL_BASE"].rstrip("/"))


def _media_type() -> str | None:
    """The JSON media type to answer with, or None when the client accepts none we make."""
    wanted = request.args.get("_format")
    if wanted is not None:
        return FHIR_JSON if wanted.split(";")[0].strip() in JSON_FORMATS else None
    if not request.headers.get("Accept"):
        return FHIR_JSON
    # Read by hand: Werkzeug's parsed Accept drops the fhirVersion parameter. Quality values
    # other than 0 are not ranked: we make JSON only, so any acceptable entry will do.
    for value in request.headers["Accept"].split(","):
        kind, *params = (part.strip() for part in value.split(";"))
        options = dict(p.partition("=")[::2] for p in params)
        if options.get("q", "1").strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        if options.get("fhirVersion", "4.0").strip() not in FHIR_VERSIONS:
            continue
        if kind.lower() in JSON_TYPES:
            return kind.lower()
        if kind in ("*/*", "application/*"):
            return FHIR_JSON
    return None


def _respond(body: dict, status: int = 200, headers: dict | None = None):
    media = _media_type() or FHIR_JSON
    content_type = f"{FHIR_JSON}; fhirVersion=4.0" if media == FHIR_JSON else "application/json"
    # orjson (a dependency already): a page of 20 roles with their practitioners and locations
    # (~100 kB) is encoded in 0.04 ms instead of the standard library's 0.66 ms.
    response = current_app.response_class(orjson.dumps(body), status=status, mimetype=None,
                                          content_type=content_type)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def outcome(status: int, code: str, message: str, expression: str | None = None, headers: dict | None = None):
    """An OperationOutcome error response (issue.code invalid | not-supported | not-found | deleted ...)."""
    issue = {"severity": "error", "code": code, "diagnostics": message}
    if expression:
        issue["expression"] = [expression]
    return _respond({"resourceType": "OperationOutcome", "issue": [issue]}, status, headers)


ALLOW = {"Allow": "GET, HEAD, OPTIONS"}


@bp.before_app_request
def _routing_errors():
    """What routing refused under /fhir/ (before dispatch raises it to the site's handlers)."""
    error = request.routing_exception
    if error is None or not (request.path == bp.url_prefix or request.path.startswith(bp.url_prefix + "/")):
        return None
    response = (outcome(405, "not-supported", "This directory is read-only: only GET is allowed.", headers=ALLOW)
                if isinstance(error, MethodNotAllowed)
                else outcome(404, "not-found", "No FHIR interaction has this path."))
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.before_request
def _negotiate():
    if request.method == "OPTIONS":
        methods = "POST, OPTIONS" if request.path.endswith("/_search") else ALLOW["Allow"]
        return current_app.response_class(status=204, headers={
            "Allow": methods, "Access-Control-Allow-Methods": methods,
            "Access-Control-Allow-Headers": "Accept, Content-Type, Prefer", "Access-Control-Max-Age": "86400"})
    if _media_type() is None:
        return outcome(406, "not-supported", "Only JSON is served (application/fhir+json; fhirVersion=4.0, "
                       "application/json or _format=json).", "_format" if "_format" in request.args else None)
    return None


@bp.after_request
def _cors(response):
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    codes = {404: "not-found", 405: "not-supported", 410: "deleted", 503: "transient"}
    code = codes.get(error.code or 500, "processing")
    return outcome(error.code or 500, code, error.description or error.name, headers=dict(error_headers(error)))


@bp.errorhandler(Exception)
def _unexpected(error: Exception):
    current_app.logger.exception("FHIR request failed")  # the error, never who asked
    return outcome(500, "exception", "The server could not answer this request.")


@bp.route("/metadata")
def metadata():
    try:
        software = version("ivig-directory")
    except PackageNotFoundError:
        software = "dev"
    return _respond(capability_statement(request.url_root.rstrip("/") + bp.url_prefix, software, date.today(),
                                         _canonicals()))


def _search(resource_type: str, args: MultiDict, type_url: str):
    entry = TYPES.get(resource_type)
    if entry is None:
        return outcome(404, "not-supported", f"{resource_type} is not a resource type this server has.")
    lenient = "handling=lenient" in request.headers.get("Prefer", "").replace(" ", "")
    try:
        bundle = search(request_session(), entry, args, type_url, _canonicals(), lenient=lenient)
    except SearchError as error:
        return outcome(400, error.code, error.message, error.expression)
    return _respond(bundle)


@bp.route("/<resource_type>")
def search_type(resource_type: str):
    return _search(resource_type, request.args, request.base_url)


@bp.route("/<resource_type>/_search", methods=["POST"])
@csrf.exempt
def search_post(resource_type: str):
    """The same search, its parameters in an application/x-www-form-urlencoded body (and the URL)."""
    empty = not request.content_length and not request.mimetype
    if resource_type in TYPES and request.mimetype != "application/x-www-form-urlencoded" and not empty:
        return outcome(415, "not-supported", "POST _search takes an application/x-www-form-urlencoded body.")
    args = MultiDict([*request.args.items(multi=True), *request.form.items(multi=True)])
    return _search(resource_type, args, request.base_url.rsplit("/", 1)[0])


@bp.route("/<resource_type>/<resource_id>")
def read_resource(resource_type: str, resource_id: str):
    if resource_type not in TYPES:
        return outcome(404, "not-supported", f"{resource_type} is not a resource type this server has.")
    found = read(request_session(), resource_type, resource_id, _canonicals())
    if found is Missing.NOT_FOUND:
        return outcome(404, "not-found", f"{resource_type}/{resource_id} is not known.")
    if found is Missing.GONE:
        return outcome(410, "deleted", f"{resource_type}/{resource_id} was removed from the directory.")
    return _respond(found)


