"""Rate limits on what is expensive to answer: the CSV export, the printable list and deep pages of
search (Flask-Limiter), per client, with 429 and Retry-After.

A client is the salted key problem reports use (`reports.client_key`): the address the trusted
proxies saw (ProxyFix, `TRUSTED_PROXIES`), an IPv6 /64 as one client. Signed-in staff are not
limited. Counters live in memory (one per worker process) unless RATELIMIT_STORAGE_URI names a
shared store (e.g. redis://host:6379), which every worker then counts in.
"""

from __future__ import annotations

import math
import time

from flask import Flask, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_login import current_user
from werkzeug.exceptions import TooManyRequests

from directory.services.reports import client_key
from directory.web.params import whole_number

# Endpoint -> the kind of expensive request it always is.
WHOLE_RESULT_SETS = {"public.export_csv": "export", "public.referral_list": "export"}
# Endpoints whose deep pages (beyond RATELIMIT_DEEP_PAGE) are limited.
PAGED = {"public.search", "api.search"}
WHAT = {"export": "exports of whole result sets (CSV and printable lists)", "deep": "requests for deep pages"}


def expensive_kind() -> str | None:
    """'export', 'deep' or None (not limited) for the current request."""
    if request.endpoint in WHOLE_RESULT_SETS:
        return WHOLE_RESULT_SETS[request.endpoint]
    if request.endpoint in PAGED:
        page = whole_number(request.args.get("page"))
        if page is not None and page > current_app.config["RATELIMIT_DEEP_PAGE"]:
            return "deep"
    return None


def _rate() -> str:
    kind = expensive_kind()
    return current_app.config["EXPORT_RATE_LIMIT" if kind == "export" else "DEEP_PAGE_RATE_LIMIT"]


def _exempt() -> bool:
    return expensive_kind() is None or current_user.is_authenticated


def _client() -> str:
    return client_key(request.remote_addr, current_app.config["SECRET_KEY"])


class _Limiter(Limiter):
    """Flask-Limiter, asked only about the requests it may limit: it resolves every limit that could
    apply before it calls `default_limits_exempt_when`, about 0.15 ms of each request (a tenth of a
    search's framework time, most of /healthz's), for the few expensive requests it counts."""

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if expensive_kind() is None:
            return
        super()._check_request_limit(callable_name, in_middleware)


def init_app(app: Flask) -> None:
    """One limiter per app (its counters are its own); settings from RATELIMIT_* and *_RATE_LIMIT."""
    # Each limited endpoint counts on its own (Flask-Limiter's default limits are per route).
    limiter = _Limiter(_client, app=app, default_limits=[_rate], default_limits_exempt_when=_exempt,
                      storage_uri=app.config["RATELIMIT_STORAGE_URI"], headers_enabled=False)

    @app.errorhandler(RateLimitExceeded)
    def _limited(error: RateLimitExceeded):
        reset_at = limiter.current_limit.reset_at if limiter.current_limit else time.time() + 60
        seconds = max(1, math.ceil(reset_at - time.time()))
        described = TooManyRequests(f"Too many {WHAT.get(expensive_kind(), 'requests')} from your address "
                                    f"(at most {error.limit.limit}). Please try again in {seconds} seconds.",
                                    retry_after=seconds)
        return app.handle_http_exception(described)
