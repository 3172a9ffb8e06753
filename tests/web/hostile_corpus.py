"""The hostile-input corpus that tests/web/test_hostile_input.py sends: the texts and numbers someone
trying things types, and every public parameter, page and form and every staff form they go to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import urlencode

import pytest

from tests.web.test_staff_auth import PASSWORD

TEN_KB = "x" * 10_240
# Text typed by someone trying things: query syntax, injections, edges of numbers and of Unicode.
TEXT = {
    "sql-quote": "' OR '1'='1' --", "sql-drop": "1; DROP TABLE listing; --",
    "sql-union": "0 UNION SELECT password_hash FROM staffuser",
    "html": "<script>alert(1)</script>", "html-attr": '"><img src=x onerror=alert(1)>',
    "query-syntax": 'name:* AND (q~2 OR "unclosed', "wildcards": "%_*?\\", "rtl": "\u202egnp.exe\u202c ﻣﺮﺣﺒﺎ שלום",
    "astral": "\U0001d518\U0001d52b\U0001F489", "nul": "a\x00b", "controls": "\x01\x07\x1b[31m\r\n\t",
    "ten-kb": TEN_KB, "combining": "e\u0301" * 300, "bom": "\ufeff02115",
}
SOME_NUMBERS = ("negative", "huge", "overflow", "nan", "arabic-digits", "underscore", "nul-digit", "empty")
NUMBERS = {
    "negative": "-1", "zero": "0", "huge": "9" * 40, "float-huge": "1e308", "overflow": "1e309", "nan": "NaN",
    "inf": "Infinity", "minus-inf": "-inf", "arabic-digits": "\u0663", "fullwidth": "\uff12", "underscore": "1_0",
    "hex": "0x10", "spaces": "  7  ", "empty": "", "nul-digit": "1\x00", "word": "ten",
}
SEARCH_PARAMS = ("zip", "lat", "lon", "radius", "q", "specialty", "network", "kind", "accepting", "telehealth",
                 "language", "service", "sort", "page", "per_page", "place")
NUMERIC_PARAMS = {"lat", "lon", "radius", "network", "page", "per_page"}


class Upload(NamedTuple):
    """A file for a multipart form (a fresh stream for each request that sends it)."""

    content: bytes


@dataclass
class Case:
    id: str
    method: str
    url: str
    data: dict | list | bytes | None = None
    staff: bool = False
    csrf: str | None = "valid"  # "valid": the page's token is added; None: none; else this value
    content_type: str | None = None
    headers: dict = field(default_factory=dict)


def query(url: str, pairs) -> str:
    return f"{url}?{urlencode(pairs)}"


def search_cases() -> list[Case]:
    """Each search parameter with text and number hostilities, on the API and the page; some on the
    CSV export and the printable list."""
    cases = []
    for index, name in enumerate(SEARCH_PARAMS):
        values = list((NUMBERS if name in NUMERIC_PARAMS else TEXT).items())
        # Each parameter gets six of its kind's values, a different six for neighbours.
        for label, value in (values * 2)[index % len(values):][:6]:
            for url in ("/api/v1/search", "/"):
                cases.append(Case(f"{url}:{name}={label}", "GET", query(url, [(name, value), ("q", "infusion")]
                                  if name != "q" else [(name, value)])))
    for url in ("/export.csv", "/referrals"):
        for label in ("sql-quote", "html", "nul", "ten-kb", "rtl", "huge", "nan", "negative", "arabic-digits"):
            value = {**TEXT, **NUMBERS}[label]
            cases.append(Case(f"{url}:q/page={label}", "GET", query(url, [("q", value), ("page", value)])))
    for url in ("/api/v1/search", "/", "/export.csv"):
        cases += [
            Case(f"{url}:repeated-page", "GET", f"{url}?q=a&page=1&page=2"),
            Case(f"{url}:repeated-zip", "GET", f"{url}?zip=02115&zip=10001"),
            Case(f"{url}:array-brackets", "GET", f"{url}?q[]=a&q[0]=b&specialty[]=x"),
            Case(f"{url}:sixty-specialties", "GET", query(url, [("specialty", "207RR0500X")] * 60)),
            Case(f"{url}:commas", "GET", f"{url}?network=,,,,1,,&language=en,,es,%00"),
            Case(f"{url}:deep-page", "GET", f"{url}?q=a&page=10000&per_page=100"),
            Case(f"{url}:zip-and-lat", "GET", f"{url}?zip=02115&lat=42&lon=-71&sort=distance"),
            Case(f"{url}:place-and-zip", "GET", f"{url}?place=Boston%2C+MA&zip=02115&lat=42&lon=-71"),
            Case(f"{url}:repeated-place", "GET", f"{url}?place=Boston%2C+MA&place=Springfield"),
            Case(f"{url}:ambiguous-place", "GET", f"{url}?place=Springfield&q=%00"),
            Case(f"{url}:street-place", "GET", f"{url}?place=1+Main+St%2C+Boston%2C+MA+02115"),
            Case(f"{url}:bad-percent", "GET", f"{url}?q=%E0%A4%A&zip=%ff%fe"),
            Case(f"{url}:many-params", "GET", url + "?" + "&".join(f"p{i}=v" for i in range(2000))),
        ]
    return cases


def path_cases() -> list[Case]:
    cases = []
    segments = {"negative": "-1", "float": "1.5", "nul": "%00", "exp": "1e3", "ten-kb": "9" * 10_240,
                "traversal": "..%2F..%2Fetc%2Fpasswd", "rtl": "%E2%80%AE1", "unicode-digit": "%D9%A1"}
    for label, segment in segments.items():
        for template in ("/providers/{}", "/api/v1/providers/{}", "/api/v1/zip/{}", "/staff/listings/{}/edit"):
            cases.append(Case(f"{template}:{label}", "GET", template.format(segment), staff="staff" in template))
    cases += [Case("/what-to-expect:query", "GET", "/what-to-expect?x=%00&x=" + TEN_KB),
              Case("/healthz:body", "GET", "/healthz", data=b"\x00" * 100, content_type="application/json"),
              Case("/api:trace", "TRACE", "/api/v1/search"), Case("/:put", "PUT", "/", data=b"x")]
    return cases


def report_cases() -> list[Case]:
    url = "/providers/{org}/report"
    good = {"problem": "wrong_phone", "details": "The phone rings a pizza shop.", "contact": ""}
    cases = [Case(f"report:details={label}", "POST", url, {**good, "details": value}) for label, value in TEXT.items()]
    cases += [Case(f"report:contact={label}", "POST", url, {**good, "contact": value})
              for label, value in TEXT.items() if label in ("html", "sql-quote", "nul", "ten-kb", "rtl")]
    cases += [
        Case("report:problem=unknown", "POST", url, {**good, "problem": "'; DROP TABLE problemreport; --"}),
        Case("report:problem=repeated", "POST", url, [("problem", "closed"), ("problem", "other"),
                                                     ("details", good["details"])]),
        Case("report:problem=missing", "POST", url, {"details": good["details"]}),
        Case("report:no-csrf", "POST", url, good, csrf=None),
        Case("report:forged-csrf", "POST", url, good, csrf="IjEyMyI.forged.token"),
        Case("report:csrf-nul", "POST", url, good, csrf="\x00"),
        Case("report:json", "POST", url, b'{"problem": "closed", "details": "closed down"}',
             content_type="application/json"),
        Case("report:text-plain", "POST", url, b"problem=closed&details=closed+down", content_type="text/plain"),
        Case("report:bad-multipart", "POST", url, b"--XX\r\nContent-Disposition: form-data; name=\"problem\"\r\n\r\n",
             content_type="multipart/form-data; boundary=XX"),
        Case("report:multipart-no-boundary", "POST", url, b"garbage", content_type="multipart/form-data"),
        Case("report:many-fields", "POST", url, [(f"f{i}", "v") for i in range(2000)]),
        Case("report:gone-listing", "POST", "/providers/{gone}/report", good),
        Case("report:no-listing", "POST", "/providers/999999/report", good),
    ]
    return cases


def login_cases() -> list[Case]:
    good = {"email": "admin@example.org", "password": PASSWORD}
    cases = [Case(f"login:{part}={label}", "POST", "/staff/login", {**good, part: TEXT[label]})
             for part in ("email", "password")
             for label in ("sql-quote", "html", "query-syntax", "rtl", "nul", "controls", "ten-kb")]
    cases += [
        Case("login:next=offsite", "POST", "/staff/login", {**good, "next": "//evil.example/"}),
        Case("login:next=backslash", "POST", "/staff/login", {**good, "next": "/\\evil.example"}),
        Case("login:next=javascript", "POST", "/staff/login", {**good, "next": "javascript:alert(1)"}),
        Case("login:no-csrf", "POST", "/staff/login", good, csrf=None),
        Case("login:forged-csrf", "POST", "/staff/login", good, csrf="forged"),
        Case("login:json", "POST", "/staff/login", b'{"email": "admin@example.org"}', content_type="application/json"),
        Case("login:get-next", "GET", "/staff/login?next=%00" + TEN_KB),
    ]
    return cases


def listing_form(version: str = "{version}", **changes) -> dict:
    form = {"name": "Fenway Infusion Center", "npi": "{npi}", "org_type": "infusion_center", "version": version,
            "specialties": "261QI0500X", "primary_specialty": "261QI0500X", "languages": "en",
            "locations.0.id": "{loc}", "locations.0.address": "1 Main St", "locations.0.zip": "02115",
            "locations.0.city": "Boston", "locations.0.state": "MA", "locations.0.phone": "(617) 555-0100"}
    return {**form, **changes}


def staff_cases() -> list[Case]:
    edit = "/staff/listings/{org}/edit"
    cases = [Case(f"edit:{name}={label}", "POST", edit, listing_form(**{name: value}), staff=True)
             for name in ("name", "npi", "website", "locations.0.zip", "locations.0.state", "locations.0.phone")
             for label, value in TEXT.items()
             if label in ("sql-quote", "html", "nul", "ten-kb", "rtl", "controls", "query-syntax")]
    cases += [Case(f"edit:version={label}", "POST", edit, listing_form(version=value), staff=True)
              for label, value in {"stale": "{stale}", **NUMBERS}.items() if label in ("stale", *SOME_NUMBERS)]
    cases += [
        Case("edit:networks=hostile", "POST", edit, listing_form(networks=["-1", "9" * 30, "abc", "\u0663"]),
             staff=True),
        Case("edit:specialty=unknown", "POST", edit, listing_form(specialties="<b>X</b>"), staff=True),
        Case("edit:location-index-huge", "POST", edit, listing_form(**{"locations.99999999999999999999.zip": "1"}),
             staff=True),
        Case("edit:location-id-foreign", "POST", edit, listing_form(**{"locations.0.id": "{ploc}"}), staff=True),
        Case("edit:location-id-huge", "POST", edit, listing_form(**{"locations.0.id": "9" * 30}), staff=True),
        Case("edit:org-type", "POST", edit, listing_form(org_type="'; --"), staff=True),
        Case("edit:no-csrf", "POST", edit, listing_form(name="No token"), staff=True, csrf=None),
        Case("edit:forged-csrf", "POST", edit, listing_form(name="Forged"), staff=True, csrf="forged"),
        Case("edit:anonymous", "POST", edit, listing_form(name="Anonymous"), csrf=None),
        Case("edit:json", "POST", edit, b'{"name": "x"}', staff=True, content_type="application/json"),
        Case("edit:bad-multipart", "POST", edit, b"--B\r\n", staff=True,
             content_type="multipart/form-data; boundary=B"),
        Case("new:kind=html", "GET", "/staff/listings/new?kind=%3Cscript%3E", staff=True),
        Case("new:empty", "POST", "/staff/listings/new", {}, staff=True),
        Case("new:hostile-name", "POST", "/staff/listings/new", listing_form(name=TEXT["nul"], npi="123"), staff=True),
        Case("deactivate:no-csrf", "POST", "/staff/listings/{org}/deactivate", {}, staff=True, csrf=None),
        Case("restore:forged-csrf", "POST", "/staff/listings/{gone}/restore", {}, staff=True, csrf="forged"),
        Case("list:q=sql", "GET", query("/staff/listings/", [("q", TEXT["sql-quote"]), ("page", "-1")]), staff=True),
        Case("list:q=like", "GET", query("/staff/listings/", [("q", "%_\\"), ("page", "9" * 30)]), staff=True),
        Case("list:q=nul", "GET", query("/staff/listings/", [("q", TEXT["nul"])]), staff=True),
    ]
    roles = "/staff/listings/{prac}/roles"
    cases += [Case(f"roles:location_id={label}", "POST", roles, {"location_id": value}, staff=True)
              for label, value in {**NUMBERS, "sql": TEXT["sql-quote"], "own-location": "{ploc}"}.items()
              if label in ("sql", "own-location", *SOME_NUMBERS)]
    cases += [
        Case("roles:specialty=html", "POST", roles, {"location_id": "{loc}", "specialty_code": TEXT["html"]},
             staff=True),
        Case("roles:no-csrf", "POST", roles, {"location_id": "{loc}"}, staff=True, csrf=None),
        Case("roles:remove-foreign", "POST", "/staff/listings/{org}/roles/{role}/remove", {}, staff=True),
        Case("roles:remove-forged", "POST", "/staff/listings/{prac}/roles/{role}/remove", {}, staff=True, csrf="x"),
    ]
    verify = "/staff/verification/{org}"
    cases += [Case(f"verify:version={label}", "POST", verify, {"version": value, "method": "phone"}, staff=True)
              for label, value in {"stale": "{stale}", **NUMBERS}.items() if label in ("stale", *SOME_NUMBERS)]
    cases += [Case(f"verify:method={label}", "POST", verify, {"version": "{version}", "method": value}, staff=True)
              for label, value in TEXT.items() if label in ("sql-quote", "html", "nul", "ten-kb")]
    cases += [
        Case("verify:no-csrf", "POST", verify, {"version": "{version}", "method": "phone"}, staff=True, csrf=None),
        Case("verify:page=huge", "POST", verify, {"version": "{stale}", "method": "phone", "page": "9" * 40},
             staff=True),
        Case("queue:filters", "GET", query("/staff/verification", [("state", TEXT["rtl"]), ("kind", TEXT["sql-quote"]),
                                                                   ("page", "9" * 40)]), staff=True),
    ]
    audit_filters = {
        "listing_id": {label: NUMBERS[label] for label in SOME_NUMBERS[:5]},
        "since": {"feb-30": "2026-02-30", "year": "99999-01-01", "nul": "2026-01-01\x00", "sql": TEXT["sql-quote"]},
        "actor": {"sql": TEXT["sql-quote"], "like": "%_"},
        "action": {"html": TEXT["html"], "ten-kb": TEN_KB},
    }
    for url in ("/staff/audit", "/staff/audit.csv"):
        cases += [Case(f"{url}:{name}={label}", "GET", query(url, [(name, value)]), staff=True)
                  for name, values in audit_filters.items() for label, value in values.items()]
    cases += [
        Case(f"accounts:{name}={label}", "POST", "/staff/accounts",
             {"email": "new@example.org", "role": "editor", "password": "long enough password", name: value},
             staff=True)
        for name in ("email", "role", "password") for label, value in TEXT.items()
        if label in ("sql-quote", "html", "nul", "ten-kb", "rtl", "controls")
    ]
    cases += [
        Case("accounts:active=2", "POST", "/staff/accounts/{staff}/active", {"active": "2"}, staff=True),
        Case("accounts:active-self", "POST", "/staff/accounts/{admin}/active", {"active": "0"}, staff=True),
        Case("accounts:active-no-csrf", "POST", "/staff/accounts/{staff}/active", {"active": "0"}, staff=True,
             csrf=None),
        Case("password:mismatch", "POST", "/staff/password", {"current_password": PASSWORD, "new_password": "a" * 20,
                                                              "confirm_password": "b" * 20}, staff=True),
        Case("password:nul", "POST", "/staff/password", {"current_password": PASSWORD, "new_password": "\x00" * 20,
                                                         "confirm_password": "\x00" * 19}, staff=True),
        Case("password:other-nul", "POST", "/staff/accounts/{staff}/password",
             {"new_password": "\x00" * 20, "confirm_password": "\x00" * 20}, staff=True),
        Case("password:wrong-current", "POST", "/staff/password",
             {"current_password": TEXT["sql-quote"], "new_password": "c" * 20, "confirm_password": "c" * 20},
             staff=True),
        Case("password:other-ten-kb", "POST", "/staff/accounts/{staff}/password",
             {"new_password": TEN_KB, "confirm_password": TEN_KB[:-1]}, staff=True),
    ]
    imports = "/staff/imports"
    header = b"kind,npi,name\r\n"
    cases += [Case(f"imports:kind={label}", "POST", imports, {"kind": value, "file": (Upload(header), "a.csv")},
                   staff=True, content_type="multipart/form-data") for label, value in TEXT.items()
              if label in ("sql-quote", "html", "nul")]
    cases += [
        Case("imports:no-file", "POST", imports, {"kind": "template", "dry_run": "1"}, staff=True),
        Case("imports:latin-1", "POST", imports, {"kind": "template", "dry_run": "1",
                                                  "file": (Upload("name\ré\xe9".encode("latin-1")), "a.csv")},
             staff=True, content_type="multipart/form-data"),
        Case("imports:nul-bytes", "POST", imports, {"kind": "nppes", "dry_run": "1",
                                                    "file": (Upload(b"\x00" * 1000), "a.csv")},
             staff=True, content_type="multipart/form-data"),
        Case("imports:wrong-header", "POST", imports, {"kind": "networks", "file": (Upload(b"<html>\n"), "a.csv")},
             staff=True, content_type="multipart/form-data"),
        Case("imports:hostile-filename", "POST", imports,
             {"kind": "template", "dry_run": "1", "file": (Upload(header), "../../<script>.csv")},
             staff=True, content_type="multipart/form-data"),
        Case("imports:bad-multipart", "POST", imports, b"--B\r\nContent-Disposition: form-data; name=\"file\"; "
             b"filename=\"a.csv\"\r\n\r\nabc", staff=True, content_type="multipart/form-data; boundary=B"),
        Case("imports:no-csrf", "POST", imports, {"kind": "template", "file": (Upload(header), "a.csv")},
             staff=True, csrf=None, content_type="multipart/form-data"),
    ]
    return cases


CASES = search_cases() + path_cases() + report_cases() + login_cases() + staff_cases()
# Werkzeug's multipart parser drops the temporary file of a file part cut short (request.close()
# cannot reach it); the garbage collector closes it. Only that case may warn about it.
LEAKS_A_SPOOLED_FILE = pytest.mark.filterwarnings(
    "ignore:Exception ignored in.*SpooledTemporaryFile:pytest.PytestUnraisableExceptionWarning",
    "ignore:Unclosed file <tempfile.SpooledTemporaryFile:ResourceWarning")
# PostgreSQL refuses some text SQLite keeps (NUL) and numbers beyond bigint: these run on both.
ON_POSTGRES = ("nul", "controls", "huge", "overflow", "ten-kb", "sql-quote")
PARAMS = [pytest.param(backend, case, id=f"{backend}:{case.id}",
                       marks=[LEAKS_A_SPOOLED_FILE] if case.id == "imports:bad-multipart" else [])
          for case in CASES for backend in ("sqlite", "postgres")
          if backend == "sqlite" or any(case.id.endswith(f"={label}") for label in ON_POSTGRES)]
