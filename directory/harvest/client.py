"""Paging through a FHIR server's search results with plain HTTP (requests): one Bundle at a time,
following `next` links, with a rate limit and retries.

A page that cannot be used (an HTML error page, malformed JSON, not a Bundle, a timeout or a 5xx
after every retry, a `next` link leading back to a page already read or to another server) raises
`PageError`, which names the page; the caller reports it and stops that search there.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import requests

RETRY_STATUSES = {429, 500, 502, 503, 504}


class PageError(Exception):
    """A page that cannot be used; `url` is the page."""

    def __init__(self, url: str, problem: str):
        super().__init__(f"{problem} (page {url})")
        self.url = url
        self.problem = problem


@dataclass
class Page:
    url: str
    bundle: dict
    next_url: str | None


@dataclass
class HttpSettings:
    """How politely to ask: seconds between requests, attempts per page, backoff (seconds, doubled
    per attempt, capped), the longest Retry-After honoured and the timeout (seconds)."""

    min_interval: float = 0.1
    attempts: int = 4
    backoff: float = 0.5
    max_wait: float = 60.0
    timeout: float = 30.0


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class FhirPager:
    """Reads search pages from one FHIR base URL (no trailing slash needed)."""

    def __init__(self, base_url: str, settings: HttpSettings | None = None, *, sleep=time.sleep):
        self.base_url = base_url.rstrip("/") + "/"
        self.settings = settings or HttpSettings()
        self.sleep = sleep
        self.http = requests.Session()
        self.http.headers.update({"Accept": "application/fhir+json, application/json;q=0.9",
                                  "User-Agent": "ivig-directory-harvest/1"})
        self._last_request = 0.0
        self.requests = 0
        self.retries = 0

    def close(self) -> None:
        self.http.close()

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path)

    def _same_server(self, url: str) -> bool:
        ours, theirs = urlsplit(self.base_url), urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)

    def _wait_turn(self) -> None:
        gap = self.settings.min_interval - (time.monotonic() - self._last_request)
        if gap > 0:
            self.sleep(gap)
        self._last_request = time.monotonic()

    def _get(self, url: str) -> requests.Response:
        s = self.settings
        for attempt in range(s.attempts):
            self._wait_turn()
            self.requests += 1
            try:
                response = self.http.get(url, timeout=s.timeout)
            except requests.Timeout:
                problem, wait = f"no answer within {s.timeout:g} s", None
            except requests.ConnectionError as error:
                problem, wait = f"connection failed ({type(error).__name__})", None
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                problem, wait = f"HTTP {response.status_code}", retry_after(response.headers.get("Retry-After"))
            if attempt + 1 == s.attempts:
                raise PageError(url, f"{problem} after {s.attempts} attempts")
            self.retries += 1
            backoff = s.backoff * 2 ** attempt
            self.sleep(min(s.max_wait, wait if wait is not None else backoff))
        raise AssertionError("unreachable")

    def fetch(self, url: str) -> Page:
        """One page of search results (a Bundle) and its `next` link."""
        response = self._get(url)
        text = response.text
        kind = response.headers.get("Content-Type", "")
        if "html" in kind or text.lstrip()[:1] == "<":
            raise PageError(url, f"an HTML page instead of FHIR JSON (HTTP {response.status_code})")
        try:
            bundle = json.loads(text)
        except ValueError as error:
            raise PageError(url, f"malformed JSON ({error.msg} at character {error.pos})") from None
        if not isinstance(bundle, dict):
            raise PageError(url, "the answer is not a JSON object")
        if bundle.get("resourceType") == "OperationOutcome" or response.status_code >= 400:
            issues = bundle.get("issue") if isinstance(bundle.get("issue"), list) else []
            said = "; ".join(str(i.get("diagnostics") or i.get("code")) for i in issues if isinstance(i, dict))
            raise PageError(url, f"HTTP {response.status_code}: {said or 'error'}")
        if bundle.get("resourceType") != "Bundle":
            raise PageError(url, f"expected a Bundle, got {bundle.get('resourceType')!r}")
        next_url = None
        for link in bundle.get("link") or []:
            if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
                next_url = urljoin(url, link["url"])
        return Page(url=url, bundle=bundle, next_url=next_url)

    def _next(self, url: str, seen: set[str]) -> Page:
        if url in seen:
            raise PageError(url, "the next link leads back to a page already read (a loop)")
        if not self._same_server(url):
            raise PageError(url, f"the next link leaves the source's server ({self.base_url})")
        seen.add(url)
        return self.fetch(url)

    def pages(self, first_url: str):
        """Every page of a search from `first_url`, one at a time (a generator: bounded memory).

        The next page is asked for while the caller works on this one (one page ahead, in one
        thread that makes every request): the source prepares it meanwhile. A page that cannot be
        read raises its PageError when the caller asks for it, after the pages before it."""
        seen: set[str] = set()
        ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="harvest-fetch")
        try:
            coming = ahead.submit(self._next, first_url, seen)
            while coming is not None:
                page = coming.result()
                coming = None if page.next_url is None else ahead.submit(self._next, page.next_url, seen)
                yield page
        finally:  # a caller that stops early (an error, Ctrl-C) does not wait for the page ahead
            ahead.shutdown(wait=False, cancel_futures=True)
