"""The clients of the load run (bench/load.py): anonymous visitors and staff, each a thread with its
own HTTP session (requests), and what each records.

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
import secrets
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


# --- anonymous visitors -------------------------------------------------------------------------

@dataclass
class PublicTargets:
    """What visitors ask for: search query strings (the benchmark mix), listing ids to open, and
    listing ids to report problems about."""

    searches: list[str]
    listings: list[int]
    report_listings: list[int]


def is_search_json(response: requests.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body.get("results"), list) and isinstance(body.get("total"), int)


def has_report_form(response: requests.Response) -> bool:
    return 'id="report-form"' in response.text


def visit(client: Client, targets: PublicTargets, kind: str) -> None:
    rng = client.rng
    if kind == "search_api":
        client.request(kind, "GET", "/api/v1/search?" + rng.choice(targets.searches), ok_when(200, is_search_json))
    elif kind == "search_page":
        client.request(kind, "GET", "/?" + rng.choice(targets.searches),
                       ok_when(200, lambda r: 'id="result-count"' in r.text))
    elif kind == "export":
        client.request(kind, "GET", "/export.csv?" + rng.choice(targets.searches),
                       ok_when(200, lambda r: r.headers.get("Content-Type", "").startswith("text/csv")
                               and r.text.startswith("id,name,")))
    elif kind == "provider":
        lid = rng.choice(targets.listings)
        client.request(kind, "GET", f"/providers/{lid}", ok_when(200, has_report_form))
    else:  # a problem report: the listing's page, then its form sent
        lid = rng.choice(targets.report_listings)
        page = f"/providers/{lid}"
        outcome, response = client.request("provider", "GET", page, ok_when(200, has_report_form))
        if outcome != "ok":
            return
        fields = dict(form_fields(response.text, f"/providers/{lid}/report") or [])
        details = f"The phone number rings a fax machine (load run {secrets.token_hex(6)})."
        fields.update(problem="wrong_phone", details=details, contact="")
        outcome, _ = client.request("report", "POST", f"{page}/report", ok_when(
            303, lambda r: r.headers.get("Location", "").endswith(page)), data=fields, referer=page)
        if outcome == "ok":
            client.recorder.reported(lid, details)


def anonymous(base: str, recorder: Recorder, targets: PublicTargets, rng: random.Random, stop: threading.Event,
              visitor_requests: int) -> None:
    kinds, weights = zip(*ANONYMOUS_WEIGHTS.items(), strict=True)
    while not stop.is_set():
        client = Client(base, recorder, rng)
        try:
            for _ in range(visitor_requests):
                if stop.is_set():
                    break
                kind = rng.choices(kinds, weights)[0]
                attempt(client, kind, visit, targets, kind)
        finally:
            client.close()


# --- staff --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StaffAccount:
    email: str
    password: str
    job: str  # "editor": edits the shared listings; "checker": verifies them (admin role, reads
    #           the version on the edit page); "verifier": verifies from the head of the queue


def sign_in(client: Client, account: StaffAccount) -> None:
    """Sign in once (before the timed run); the session cookie is kept by the client."""
    page = client.http.get(client.base + "/staff/login", timeout=TIMEOUT_S)
    client.keep_cookies()
    fields = dict(form_fields(page.text, "/staff/login") or [])
    fields.update(email=account.email, password=account.password)
    response = client.http.post(client.base + "/staff/login", data=fields, allow_redirects=False,
                                headers={"Referer": client.origin + "/staff/login"}, timeout=TIMEOUT_S)
    client.keep_cookies()
    if response.status_code != 303:
        raise RuntimeError(f"sign-in as {account.email} answered {response.status_code}: {response.text[:300]}")


def edit_form(client: Client, lid: int) -> tuple[list[tuple[str, str]], int] | None:
    """The listing's edit form (staff_form) as (fields, version), None when it failed."""
    path = f"/staff/listings/{lid}/edit"
    outcome, response = client.request("staff_form", "GET", path, ok_when(200, lambda r: 'id="listing-form"' in r.text))
    if outcome != "ok":
        return None
    fields = form_fields(response.text, path)
    version = dict(fields or []).get("version", "")
    if not version.isdigit():
        client.recorder.answer("staff_form", "failures", None, f"GET {path}: no version in the form")
        return None
    return fields, int(version)


def edit(client: Client, account: StaffAccount, lid: int) -> None:
    found = edit_form(client, lid)
    if found is None:
        return
    fields, version = found
    name = TOKEN.sub("", dict(fields)["name"]) + " " + name_token(client.rng)
    fields = [(key, name if key == "name" else value) for key, value in fields]
    path = f"/staff/listings/{lid}/edit"

    def judge(response: requests.Response) -> str | None:
        if response.status_code == 303 and response.headers.get("Location", "").endswith(path):
            return "ok"
        if response.status_code == 409 and STALE_EDIT in response.text:
            return "stale"
        return None

    outcome, _ = client.request("staff_edit", "POST", path, judge, data=fields, referer=path)
    if outcome == "ok":
        client.recorder.acknowledged(Write("edit", lid, version, account.email, name))


def verify(client: Client, account: StaffAccount, lid: int, version: int, csrf: str, referer: str) -> None:
    path = f"/staff/verification/{lid}"

    def judge(response: requests.Response) -> str | None:
        if response.status_code == 303 and "/staff/verification" in response.headers.get("Location", ""):
            return "ok"
        if response.status_code == 409 and STALE_VERIFY in response.text:
            return "stale"
        return None

    fields = {"csrf_token": csrf, "version": str(version), "changed": client.rng.choice("01"),
              "method": client.rng.choice(["phone", "email", "attestation"]), "kind": "organization"}
    outcome, _ = client.request("staff_verify", "POST", path, judge, data=fields, referer=referer)
    if outcome == "ok":
        client.recorder.acknowledged(Write("verify", lid, version, account.email))


def check(client: Client, account: StaffAccount, lid: int) -> None:
    found = edit_form(client, lid)
    if found is not None:
        fields, version = found
        verify(client, account, lid, version, dict(fields)["csrf_token"], f"/staff/listings/{lid}/edit")


QUEUE_FORM = re.compile(r'action="/staff/verification/(\d+)"')


def verify_from_queue(client: Client, account: StaffAccount, head: int) -> None:
    path = "/staff/verification?kind=organization"
    outcome, response = client.request("staff_queue", "GET", path, ok_when(200, lambda r: 'id="queue"' in r.text))
    if outcome != "ok":
        return
    ids = list(dict.fromkeys(int(i) for i in QUEUE_FORM.findall(response.text)))[:head]
    if not ids:  # every organization is verified (a small data set): nothing to do
        time.sleep(0.1)
        return
    lid = client.rng.choice(ids)
    fields = dict(form_fields(response.text, f"/staff/verification/{lid}") or [])
    verify(client, account, lid, int(fields["version"]), fields["csrf_token"], path)


def staff(client: Client, account: StaffAccount, shared: list[int], stop: threading.Event, queue_head: int) -> None:
    """Work until stopped: editors edit and checkers verify listings of `shared` (chosen at random,
    so they overlap); verifiers verify one of the first `queue_head` listings of the queue."""
    try:
        while not stop.is_set():
            if account.job == "editor":
                attempt(client, "staff_edit", edit, account, client.rng.choice(shared))
            elif account.job == "checker":
                attempt(client, "staff_verify", check, account, client.rng.choice(shared))
            else:
                attempt(client, "staff_verify", verify_from_queue, account, queue_head)
    finally:
        client.close()
