"""`gunicorn bench.floor:app`: the service as `wsgi:app`, but each worker remembers every search
result it computed, so a repeated search costs nothing in the engine. A benchmark instrument only
(bench.http --floor), never a way to serve: it ignores writes.

What it measures is the rest of a search request (parsing, the result cards read from the
database, JSON, Flask, gunicorn): the best throughput any search engine could give this service.
"""

from __future__ import annotations

from directory.search import get_searcher
from wsgi import app

with app.app_context():
    searcher = get_searcher()

_search = searcher.search
_results: dict[str, object] = {}


def remembered(query):
    key = repr(query)
    found = _results.get(key)
    if found is None:
        found = _results[key] = _search(query)
    return found


searcher.search = remembered
