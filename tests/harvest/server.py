"""A faulty Plan-Net server on loopback: each search answers from a script of responses (a Bundle,
malformed JSON, an HTML error page, a 503 with Retry-After, a delay past the client's timeout), so
the harvest meets every bad case the issue names."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from directory.npi import make_npi

PLAN_NET = "http://hl7.org/fhir/us/davinci-pdex-plan-net/"


@dataclass
class Answer:
    body: str
    status: int = 200
    content_type: str = "application/fhir+json"
    headers: dict | None = None
    delay: float = 0.0


def bundle(entries: list[dict], next_url: str | None = None) -> Answer:
    links = [{"relation": "next", "url": next_url}] if next_url else []
    return Answer(json.dumps({"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}))


def network(n: int, payer: str = "Faulty Health") -> dict:
    return {"resource": {"resourceType": "Organization", "id": f"net-{n}", "name": f"Faulty Net {n} PPO",
                         "type": [{"coding": [{"system": PLAN_NET + "CodeSystem/OrgTypeCS", "code": "ntwk"}]}],
                         "partOf": {"display": payer}}, "search": {"mode": "include"}}


def practitioner(n: int, npi: str | None = "make") -> dict:
    resource = {"resourceType": "Practitioner", "id": f"p-{n}",
                "name": [{"text": f"Pat Doe{n}, MD", "family": f"Doe{n}", "given": ["Pat"], "suffix": ["MD"]}]}
    if npi is not None:
        resource["identifier"] = [{"system": "http://hl7.org/fhir/sid/us-npi",
                                   "value": make_npi(9000 + n, individual=True) if npi == "make" else npi}]
    return {"resource": resource, "search": {"mode": "include"}}


def location(n: int) -> dict:
    return {"resource": {"resourceType": "Location", "id": f"l-{n}", "address": {
        "line": [f"{n} Main St"], "city": "Boston", "state": "MA", "postalCode": "02115"}},
        "search": {"mode": "include"}}


def role(n: int, network_ref: str = "Organization/net-1", code: str = "207RR0500X") -> dict:
    return {"resource": {
        "resourceType": "PractitionerRole", "id": f"r-{n}", "practitioner": {"reference": f"Practitioner/p-{n}"},
        "location": [{"reference": f"Location/l-{n}"}],
        "specialty": [{"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": code}]}],
        "extension": [{"url": PLAN_NET + "StructureDefinition/network-reference",
                       "valueReference": {"reference": network_ref}}]}, "search": {"mode": "match"}}


def organization(n: int, npi: str) -> dict:
    return {"resource": {"resourceType": "Organization", "id": f"o-{n}", "name": f"Faulty Infusion {n}",
                         "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": npi}],
                         "type": [{"coding": [{"system": PLAN_NET + "CodeSystem/OrgTypeCS", "code": "fac"}]}]},
            "search": {"mode": "include"}}


def affiliation(n: int, network_ref: str = "Organization/net-1", code: str = "261QI0500X") -> dict:
    return {"resource": {
        "resourceType": "OrganizationAffiliation", "id": f"a-{n}",
        "participatingOrganization": {"reference": f"Organization/o-{n}"},
        "network": [{"reference": network_ref}], "location": [{"reference": f"Location/l-{n}"}],
        "specialty": [{"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": code}]}]},
        "search": {"mode": "match"}}


class FaultyServer:
    """`script[name]` is the list of answers for the search whose path starts with `name` (the first
    path segment, or "page-N" for next links); the last answer repeats."""

    def __init__(self):
        self.script: dict[str, list[Answer]] = {}
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                name = urlsplit(self.path).path.rsplit("/", 1)[-1]
                answers = server.script.get(name) or [bundle([])]
                count = server.hits.get(name, 0)
                server.hits[name] = count + 1
                answer = answers[min(count, len(answers) - 1)]
                if answer.delay:
                    time.sleep(answer.delay)
                body = answer.body.encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    for key, value in (answer.headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_port}/fhir"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
