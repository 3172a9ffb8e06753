"""A geocoder on loopback for the tests: it answers Nominatim's `/search` and Photon's `/api` the
way those services document, from the hand-written answers in tests/fixtures/geocoder/, or, in
`synthesise` mode, for any "address, city, ST zip" at a point spread deterministically around the
ZIP's centroid (`directory.geocoding.spread`), as a house match in that state.

Tests script it: `answers[query] = "nominatim/far.json"` picks an answer for one query;
`script.append(Failure(...))` makes the next requests fail (a status with headers, or a delay
longer than the client's timeout); `hold_after = n` holds every request after the n-th answered one
unanswered until `release()` (for killing a worker while it waits). It counts, per query, the
requests received and the ones answered.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from directory.geo import lookup_zip
from directory.geocoding.addresses import address_hash
from directory.geocoding.spread import spread_point

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "geocoder"
QUERY = re.compile(r"^(?P<address>.*), (?P<city>[^,]*), (?P<state>[A-Z]{2}) (?P<zip>\d{5})$")
STATE_NAMES = {"MA": "Massachusetts", "RI": "Rhode Island"}  # others are sent as their code


@dataclass
class Failure:
    status: int = 500
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (beyond the client's timeout: a timeout)


class LoopbackGeocoder:
    def __init__(self, *, synthesise: bool = False):
        self.synthesise = synthesise
        self.answers: dict[str, str] = {}
        self.script: list[Failure] = []
        self.received: Counter = Counter()
        self.answered: Counter = Counter()
        self.parameters: list[dict] = []  # each request's query parameters, in order
        self.hold_after: int | None = None
        self.holding = threading.Event()  # set once a request is being held
        self._release = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.server.server_port}"

    def config(self, service: str = "nominatim", **extra) -> dict:
        """App settings that point `service` at this server."""
        return {"GEOCODER": service, "GEOCODER_DOMAIN": self.domain, "GEOCODER_SCHEME": "http",
                "GEOCODER_MIN_DELAY": 0, "GEOCODER_TIMEOUT": 2, **extra}

    def release(self) -> None:
        self._release.set()

    def __enter__(self) -> LoopbackGeocoder:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    # -- answers ------------------------------------------------------------------------------

    def answer(self, service: str, query: str) -> tuple[int, dict, bytes]:
        with self._lock:
            self.received[query] += 1
            failure = self.script.pop(0) if self.script else None
            hold = self.hold_after is not None and sum(self.answered.values()) >= self.hold_after
        if hold:
            self.holding.set()
            self._release.wait()
            return 503, {}, b"held"
        if failure is not None:
            time.sleep(failure.delay)
            return failure.status, failure.headers, b'{"error": "scripted failure"}'
        if query in self.answers:
            body = (FIXTURES / self.answers[query]).read_bytes()
        elif self.synthesise and (match := QUERY.match(query)):
            body = self._synthesised(service, match)
        else:
            body = (FIXTURES / service / "empty.json").read_bytes()
        with self._lock:
            self.answered[query] += 1
        return 200, {"Content-Type": "application/json"}, body

    def _synthesised(self, service: str, match: re.Match) -> bytes:
        place = lookup_zip(match["zip"])
        lat, lon = spread_point(address_hash(match["address"], match["city"], match["state"], match["zip"]),
                                place.lat, place.lon)
        state = STATE_NAMES.get(match["state"], match["state"])
        if service == "photon":
            return json.dumps({"type": "FeatureCollection", "features": [{
                "type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {"type": "house", "osm_key": "place", "osm_value": "house", "state": state,
                               "countrycode": "US", "postcode": match["zip"], "city": match["city"]}}]}).encode()
        return json.dumps([{
            "place_id": 1, "osm_type": "node", "osm_id": 1, "lat": f"{lat:.7f}", "lon": f"{lon:.7f}",
            "class": "place", "type": "house", "place_rank": 30, "addresstype": "place",
            "display_name": match.string,
            "address": {"road": match["address"], "city": match["city"], "state": state,
                        "ISO3166-2-lvl4": f"US-{match['state']}", "postcode": match["zip"],
                        "country": "United States", "country_code": "us"}}]).encode()

    def _handler(self):
        geocoder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                url = urlparse(self.path)
                params = parse_qs(url.query)
                service = {"/search": "nominatim", "/api": "photon"}.get(url.path)
                if service is None or "q" not in params:
                    self.send_error(404)
                    return
                geocoder.parameters.append(params)
                status, headers, body = geocoder.answer(service, params["q"][0])
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
                    pass

            def log_message(self, *_args):
                pass

        return Handler
