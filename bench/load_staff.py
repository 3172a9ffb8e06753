"""Staff of the load run (bench/load.py): editors editing the names of shared listings, checkers
verifying the same listings from their edit pages (so versions go stale), and verifiers working from
the head of the verification queue. Each signs in once, before the timed run."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

import requests

from bench.load_clients import (
    STALE_EDIT,
    STALE_VERIFY,
    TIMEOUT_S,
    TOKEN,
    Client,
    Write,
    attempt,
    form_fields,
    name_token,
    ok_when,
)


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
