"""A static Plan-Net server on loopback: a folder of resources (by default the implementation guide's
examples, tests/fixtures/plan-net/example) searched by the guide's own SearchParameter definitions
(tests/fixtures/plan-net/SearchParameter-*.json), so that what matches is what the guide says a
parameter means, not an answer written per URL.

A search is evaluated, not looked up: each parameter's FHIRPath expression (the small part of
FHIRPath the guide's definitions use: paths, `where(url='...')`, `.value`, `|`) is walked over every
resource of the type; token parameters match a code (or `system|code`), reference parameters a
`Type/id`, string parameters a case-blind prefix; values joined by commas are alternatives, repeated
parameters must all hold. `_lastUpdated` compares `meta.lastUpdated` (a resource without one never
matches it); `_include[:iterate]=Type:param[:Target]` adds the resources the matches (and, iterating,
the included) refer to, once each, as search.mode "include"; `_count` pages the matches (in id order)
with `next` links. A parameter or an `_include` the guide's CapabilityStatement does not list for
the type, and anything else, is refused with an OperationOutcome (HTTP 400), as a strict server
would: the harvest must ask only what Plan-Net servers support.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

PLAN_NET_FIXTURES = Path(__file__).parents[1] / "fixtures" / "plan-net"
EXAMPLES = PLAN_NET_FIXTURES / "example"
DEFAULT_COUNT = 10
PREFIXES = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "gt": lambda a, b: a > b,
            "lt": lambda a, b: a < b, "ge": lambda a, b: a >= b, "le": lambda a, b: a <= b}


class Refused(Exception):
    """A search the server does not support (answered with HTTP 400 and an OperationOutcome)."""


def load_resources(folder: Path = EXAMPLES) -> list[dict]:
    """Every resource in the folder's *.json files, in file-name order."""
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def load_parameters(folder: Path = PLAN_NET_FIXTURES) -> dict[tuple[str, str], dict]:
    """(resource type, code) -> the guide's SearchParameter resource."""
    found = {}
    for path in sorted(folder.glob("SearchParameter-*.json")):
        definition = json.loads(path.read_text())
        for base in definition["base"]:
            found[(base, definition["code"])] = definition
    return found


def load_capabilities(folder: Path = PLAN_NET_FIXTURES) -> dict[str, tuple[set[str], set[str]]]:
    """Resource type -> (search parameters, `_include`s) the guide's CapabilityStatement lists."""
    statement = json.loads((folder / "CapabilityStatement-plan-net.json").read_text())
    return {r["type"]: ({p["name"] for p in r.get("searchParam", [])}, set(r.get("searchInclude", [])))
            for rest in statement["rest"] for r in rest["resource"]}


def _steps(path: str) -> list[str]:
    """A FHIRPath path split at the dots outside parentheses and quotes."""
    steps, depth, quoted, current = [], 0, False, ""
    for char in path:
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        if char == "." and depth == 0 and not quoted:
            steps.append(current)
            current = ""
        else:
            current += char
    return [*steps, current] if current else steps


def _children(node: object, name: str) -> list:
    value = node.get(name) if isinstance(node, dict) else None
    return value if isinstance(value, list) else [] if value is None else [value]


def _value(node: object) -> object:
    """An extension stands for its value[x] (the guide's extension-based parameters end at one)."""
    if isinstance(node, dict) and isinstance(node.get("url"), str):
        for key, value in node.items():
            if key.startswith("value"):
                return value
    return node


def evaluate(resource: dict, expression: str) -> list:
    """The nodes a SearchParameter's expression selects in `resource`."""
    nodes: list = []
    for branch in expression.split("|"):
        steps = _steps(branch.strip())
        if steps and steps[0] == resource["resourceType"]:
            steps = steps[1:]
        current: list = [resource]
        for step in steps:
            where = re.fullmatch(r"where\(url\s*=\s*'([^']*)'\)", step)
            if where:
                current = [n for n in current if isinstance(n, dict) and n.get("url") == where[1]]
            elif step == "value":
                current = [_value(n) for n in current]
            elif re.fullmatch(r"[A-Za-z]\w*", step):
                current = [child for n in current for child in _children(n, step)]
            else:
                raise Refused(f"the expression {expression!r} is beyond this server's FHIRPath")
        nodes += [_value(n) for n in current]
    return nodes


def _token_matches(node: object, wanted: str) -> bool:
    system, bar, code = wanted.rpartition("|")
    codings = (node.get("coding") or []) if isinstance(node, dict) and "coding" in node else [node]
    for coding in codings:
        if isinstance(coding, str):
            if coding == code and not bar:
                return True
        elif isinstance(coding, dict) and coding.get("code") == code and (not bar or coding.get("system") == system):
            return True
    return False


def _reference_key(node: object) -> str | None:
    ref = node.get("reference") if isinstance(node, dict) else None
    return "/".join(ref.rstrip("/").split("/")[-2:]) if isinstance(ref, str) and "/" in ref else None


def _text(node: object) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        return " ".join(_text(v) for v in node.values())
    if isinstance(node, list):
        return " ".join(_text(v) for v in node)
    return ""


def _instant(raw: object) -> datetime | None:
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")) if isinstance(raw, str) else None
    except ValueError:
        return None


class StaticSearch:
    """Searches over a fixed set of resources (see the module's docstring)."""

    def __init__(self, resources: list[dict], parameters: dict[tuple[str, str], dict],
                 capabilities: dict[str, tuple[set[str], set[str]]]):
        self.parameters, self.capabilities = parameters, capabilities
        self.by_key = {f"{r['resourceType']}/{r['id']}": r for r in resources}
        self.by_type: dict[str, list[dict]] = {}
        for resource in sorted(resources, key=lambda r: r["id"]):
            self.by_type.setdefault(resource["resourceType"], []).append(resource)

    def _definition(self, resource_type: str, code: str) -> dict:
        definition = self.parameters.get((resource_type, code))
        if definition is None:
            raise Refused(f"{resource_type} has no search parameter {code!r}")
        return definition

    def _matches(self, resource: dict, code: str, values: list[str]) -> bool:
        if code == "_lastUpdated":
            when = _instant((resource.get("meta") or {}).get("lastUpdated"))
            return when is not None and all(self._compare(when, value) for value in values)
        definition = self._definition(resource["resourceType"], code)
        nodes = evaluate(resource, definition["expression"])
        for value in values:  # repeated parameters: all must hold
            alternatives = value.split(",")
            if definition["type"] == "token":
                held = any(_token_matches(n, a) for n in nodes for a in alternatives)
            elif definition["type"] == "reference":
                keys = {_reference_key(n) for n in nodes}
                held = any(a in keys or any(k and k.endswith("/" + a) for k in keys) for a in alternatives)
            elif definition["type"] == "string":
                held = any(_text(n).lower().startswith(a.lower()) for n in nodes for a in alternatives)
            else:
                raise Refused(f"{code}: {definition['type']} parameters are not supported here")
            if not held:
                return False
        return True

    @staticmethod
    def _compare(when: datetime, value: str) -> bool:
        prefix, rest = (value[:2], value[2:]) if value[:2] in PREFIXES else ("eq", value)
        bound = _instant(rest)
        if bound is None:
            raise Refused(f"_lastUpdated={value}: not an instant")
        return PREFIXES[prefix](when, bound)

    def _included(self, matches: list[dict], inclusions: list[tuple[str, bool]]) -> list[dict]:
        seen = {f"{r['resourceType']}/{r['id']}" for r in matches}
        added: list[dict] = []
        frontier, first = matches, True
        while frontier:
            wave = []
            for text, iterate in inclusions:
                if not first and not iterate:
                    continue
                source, _, rest = text.partition(":")
                code, _, target = rest.partition(":")
                if f"{source}:{code}" not in self.capabilities.get(source, (set(), set()))[1]:
                    raise Refused(f"_include={text}: not among {source}'s searchInclude")
                definition = self._definition(source, code)
                if definition["type"] != "reference":
                    raise Refused(f"_include={text}: {code} is not a reference parameter")
                for resource in frontier:
                    if resource["resourceType"] != source:
                        continue
                    for node in evaluate(resource, definition["expression"]):
                        key = _reference_key(node)
                        if key in self.by_key and key not in seen and (not target or key.startswith(target + "/")):
                            seen.add(key)
                            wave.append(self.by_key[key])
            added += wave
            frontier, first = wave, False
        return added

    def search(self, base: str, resource_type: str, query: list[tuple[str, str]]) -> dict:
        """A searchset Bundle for `GET base/resource_type?query`."""
        if resource_type not in self.by_type:
            raise Refused(f"no resources of type {resource_type!r} here")
        count, offset = DEFAULT_COUNT, 0
        criteria: dict[str, list[str]] = {}
        inclusions: list[tuple[str, bool]] = []
        for name, value in query:
            if name == "_count":
                count = max(1, int(value))
            elif name == "_offset":
                offset = max(0, int(value))
            elif name in ("_include", "_include:iterate"):
                inclusions.append((value, name.endswith(":iterate")))
            elif name in self.capabilities.get(resource_type, (set(), set()))[0]:
                criteria.setdefault(name, []).append(value)
            else:
                raise Refused(f"the parameter {name} is not supported here")
        matches = [r for r in self.by_type[resource_type]
                   if all(self._matches(r, code, values) for code, values in criteria.items())]
        page = matches[offset:offset + count]
        kept = [(k, v) for k, v in query if k != "_offset"]
        links = [{"relation": "self", "url": f"{base}/{resource_type}?{urlencode(query)}"}]
        if offset + count < len(matches):
            links.append({"relation": "next",
                          "url": f"{base}/{resource_type}?{urlencode([*kept, ('_offset', offset + count)])}"})
        entries = [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
                   for r in page]
        entries += [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r,
                     "search": {"mode": "include"}} for r in self._included(page, inclusions)]
        return {"resourceType": "Bundle", "type": "searchset", "total": len(matches), "link": links,
                "entry": entries}


class StaticSource:
    """`StaticSearch` served over HTTP on loopback at `base` (…/fhir); `requests` lists the paths asked."""

    def __init__(self, resources: list[dict] | None = None):
        self.searcher = StaticSearch(load_resources() if resources is None else resources, load_parameters(),
                                     load_capabilities())
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.requests.append(self.path)
                parts = urlsplit(self.path)
                resource_type = parts.path.rstrip("/").rsplit("/", 1)[-1]
                try:
                    status, body = 200, server.searcher.search(
                        server.base, resource_type, parse_qsl(parts.query, keep_blank_values=True))
                except (Refused, ValueError) as error:
                    status, body = 400, {"resourceType": "OperationOutcome", "issue": [
                        {"severity": "error", "code": "not-supported", "diagnostics": str(error)}]}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

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
