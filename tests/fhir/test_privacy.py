"""Plan-Net's privacy rule: no log ties a client address to a FHIR query, not even the development
server's access log (a real werkzeug server on loopback)."""

from __future__ import annotations

import logging
import threading
import urllib.request

from werkzeug.serving import make_server


def test_the_development_server_logs_no_fhir_request(app, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        for path in ("/fhir/metadata", "/fhir/Practitioner?name=ada", "/healthz"):
            with urllib.request.urlopen(base + path) as response:
                assert response.status == 200
    finally:
        server.shutdown()
        thread.join(5)
    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert not [line for line in lines if "/fhir" in line]
    assert any("/healthz" in line for line in lines)  # the log itself still works for the rest
