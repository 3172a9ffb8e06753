"""What the clients of the load run (bench/load.py) share: a client with its own HTTP session
(requests), what each answer counts as, and what is recorded. The visitors are in
`load_visitors`, the staff in `load_staff`.

Every client stands behind the reverse proxy the service trusts (TRUSTED_PROXIES=1): it sends
X-Forwarded-For with its own address and X-Forwarded-Proto https, as the proxy in front of a real
deployment does, so the per-client limits (exports, problem reports, sign-in) count each visitor
apart, and cookies are Secure as in production (the cookie policy below sends them over the
loopback leg, which stands for the proxy's). An anonymous visitor makes `visitor_requests`
requests, then the thread becomes another visitor (a new address and a new session).

Answers, by kind:
- ok: the expected status and body (a search's JSON, a page with its form, CSV with its header...);
- stale: a staff write refused with 409 and its message because someone saved the listing first
  (the correct answer to a stale version, not a failure);
- limited: 429 with Retry-After and the message of the limit (a rate limit doing its job);
- failure: anything else (another status, a 5xx, a connection error or timeout, a wrong body).
"""

from __future__ import annotations

import random
import re
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

import requests

TIMEOUT_S = 60
FAILURE_SAMPLES = 5  # failed answers kept per kind in the report
STALE_EDIT = "Someone else saved this listing since you opened it"
STALE_VERIFY = "this listing was changed by someone else"
TOKEN_PREFIX = "ld"  # an edited name ends with " ld" + 8 letters (a word no demo name has)
TOKEN = re.compile(rf" {TOKEN_PREFIX}[a-z]{{8}}$")
ANONYMOUS_WEIGHTS = {"search_api": 35, "search_page": 20, "provider": 25, "export": 5, "report": 15}


# --- what is recorded ---------------------------------------------------------------------------

@dataclass
class Tally:
    """One kind of request: answers by outcome and the latency of every answer (ms)."""

    requests: int = 0
    ok: int = 0
    stale: int = 0
    limited: int = 0
    failures: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    failure_samples: list[str] = field(default_factory=list)


@dataclass
class Write:
    """An acknowledged staff write: `expected_version` is the version the form was read at."""

    kind: str  # "edit" or "verify"
    listing_id: int
    expected_version: int
    actor: str
    name: str | None = None  # the name an edit wrote


class Recorder:
    """Tallies per kind and the acknowledged writes and reports, shared by every client thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tallies: dict[str, Tally] = {}
        self.writes: list[Write] = []
        self.reports: list[tuple[int, str]] = []  # (listing id, details) of acknowledged reports

    def answer(self, kind: str, outcome: str, ms: float | None, detail: str = "") -> None:
        with self.lock:
            tally = self.tallies.setdefault(kind, Tally())
            tally.requests += 1
            setattr(tally, outcome, getattr(tally, outcome) + 1)
            if ms is not None:
                tally.latencies_ms.append(ms)
            if outcome == "failures" and len(tally.failure_samples) < FAILURE_SAMPLES:
                tally.failure_samples.append(detail[:500])

    def acknowledged(self, write: Write) -> None:
        with self.lock:
            self.writes.append(write)

    def reported(self, listing_id: int, details: str) -> None:
        with self.lock:
            self.reports.append((listing_id, details))


# --- HTML forms ---------------------------------------------------------------------------------

class Forms(HTMLParser):
    """The forms of a page as a browser would submit them: [(form attributes, [(name, value)])].
    Checkboxes count when checked; a select sends its selected options (a single select with none
    selected, its first); buttons send nothing."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[dict, list[tuple[str, str]]]] = []
        self._select: dict | None = None
        self._textarea: tuple[str, list[str]] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs) -> None:
        attrs = {k: v if v is not None else "" for k, v in attrs}
        if tag == "form":
            self.forms.append((attrs, []))
        elif not self.forms:
            return
        elif tag == "input" and "name" in attrs:
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            if kind not in ("submit", "button", "image", "reset", "file"):
                self.forms[-1][1].append((attrs["name"], attrs.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select" and "name" in attrs:
            self._select = {"name": attrs["name"], "multiple": "multiple" in attrs, "chosen": [], "first": None}
        elif tag == "option" and self._select is not None:
            value = attrs.get("value", "")
            if self._select["first"] is None:
                self._select["first"] = value
            if "selected" in attrs:
                self._select["chosen"].append(value)
        elif tag == "textarea" and "name" in attrs:
            self._textarea = (attrs["name"], [])

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None:
            chosen = self._select["chosen"]
            if not chosen and not self._select["multiple"] and self._select["first"] is not None:
                chosen = [self._select["first"]]
            self.forms[-1][1].extend((self._select["name"], value) for value in chosen)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.forms[-1][1].append((self._textarea[0], "".join(self._textarea[1]).lstrip("\n")))
            self._textarea = None


def form_fields(html: str, action_ends: str) -> list[tuple[str, str]] | None:
    """The fields of the first form whose action ends with `action_ends` (None: no such form)."""
    for attrs, fields in Forms(html).forms:
        if attrs.get("action", "").endswith(action_ends):
            return fields
    return None


# --- a client -----------------------------------------------------------------------------------

def forwarded_address(rng: random.Random) -> str:
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def name_token(rng: random.Random) -> str:
    return TOKEN_PREFIX + "".join(rng.choice(string.ascii_lowercase) for _ in range(8))


class Client:
    """One simulated person: a session (cookies), an address behind the proxy, and timed requests."""

    def __init__(self, base: str, recorder: Recorder, rng: random.Random):
        self.base, self.recorder, self.rng = base, recorder, rng
        self.http = requests.Session()
        self.http.headers.update({"X-Forwarded-For": forwarded_address(rng), "X-Forwarded-Proto": "https"})
        # Flask-WTF checks the Referer of a form sent over HTTPS against the host.
        self.origin = "https://" + base.split("://", 1)[1]

    def close(self) -> None:
        self.http.close()

    def keep_cookies(self) -> None:
        """Send the Secure cookies the app sets (production) over the loopback leg, which stands for
        the TLS proxy's connection: requests copies the jar into a default-policy one per request,
        so a cookie policy would not hold, hence the flag is dropped in the jar."""
        for cookie in self.http.cookies:
            cookie.secure = False

    def request(self, kind: str, method: str, path: str, judge: Callable[[requests.Response], str | None],
                data=None, referer: str | None = None) -> tuple[str, requests.Response | None]:
        """Send one request and record its outcome: `judge` names it (ok, stale, limited) or returns
        None for a failure. Returns (outcome, response)."""
        headers = {"Referer": self.origin + referer} if referer else None
        started = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, data=data, headers=headers,
                                         allow_redirects=False, timeout=TIMEOUT_S)
        except requests.RequestException as error:
            self.recorder.answer(kind, "failures", None, f"{method} {path}: {type(error).__name__}: {error}")
            return "failures", None
        ms = (time.perf_counter() - started) * 1000
        self.keep_cookies()
        outcome = judge(response) if response.status_code < 500 else None
        if outcome is None:
            outcome = "failures"
            detail = f"{method} {path}: {response.status_code} {response.text[:300]!r}"
        else:
            detail = ""
        self.recorder.answer(kind, outcome, ms, detail)
        return outcome, response


def limited(response: requests.Response) -> str | None:
    """A rate limit's answer: 429 with Retry-After (seconds) and a page saying so."""
    if response.status_code == 429 and response.headers.get("Retry-After", "").isdigit() and \
            ("try again" in response.text.lower()):
        return "limited"
    return None


def ok_when(status: int, check: Callable[[requests.Response], bool]) -> Callable[[requests.Response], str | None]:
    def judge(response: requests.Response) -> str | None:
        if response.status_code == status and check(response):
            return "ok"
        return limited(response)
    return judge


def attempt(client: Client, kind: str, action: Callable[..., None], *args) -> None:
    """Run one action of a client; a page it cannot read (a form or field missing) is a failure of
    `kind`, recorded, and the client goes on."""
    try:
        action(client, *args)
    except (KeyError, ValueError, TypeError, AttributeError) as error:
        client.recorder.answer(kind, "failures", None, f"unreadable answer: {type(error).__name__}: {error}")
