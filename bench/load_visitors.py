"""Anonymous visitors of the load run (bench/load.py): searches through the API and the page,
provider pages, CSV exports and problem reports sent through the form with its CSRF token. Each
thread is a visitor for `visitor_requests` requests, then another visitor (a new address and a new
HTTP session)."""

from __future__ import annotations

import random
import secrets
import threading
from dataclasses import dataclass

import requests

from bench.load_clients import ANONYMOUS_WEIGHTS, Client, Recorder, attempt, form_fields, ok_when


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
