"""Plan-Net's privacy rule: no log ties a client address to a FHIR query, not even the development
server's access log (a real werkzeug server on loopback)."""

from __future__ import annotations

import logging
import urllib.request

from tests.loopback import serving


def test_the_development_server_logs_no_fhir_request(app, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    with serving(app) as base:
        for path in ("/fhir/metadata", "/fhir/Practitioner?name=ada", "/healthz"):
            with urllib.request.urlopen(base + path) as response:
                assert response.status == 200
    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert not [line for line in lines if "/fhir" in line]
    assert any("/healthz" in line for line in lines)  # the log itself still works for the rest
