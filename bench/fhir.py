"""FHIR benchmark: the issue's FHIR mix, whole requests in one process, on either search backend.

    python -m bench.fhir --dir bench/data/100000                        # SQLite + Whoosh index
    python -m bench.fhir --dir bench/data/100000 --backend postgres \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_100000
    python -m bench.fhir --dir bench/data/100000 --gunicorn --duration 20   # p99 under gunicorn (wrk)

The mix, `--queries` distinct URLs per kind (300 by default), drawn deterministically from the
data (`--seed`): real ZIPs and their places, the specialties practitioners hold, the networks,
practitioners' surnames, organizations' cities.

    role       PractitionerRole?location.near=<a location's place>|25|mi&specialty=<code>
               &network=Organization/net-<id>&new-patient=newpt
               &_include=PractitionerRole:practitioner&_include=PractitionerRole:location
    chain      PractitionerRole?location.address-postalcode=<a ZIP where practitioners work>
    near       Location?near=<a location's place>|10|mi
    name       Practitioner?name=<the first four letters of a practitioner's surname>
    content    Practitioner?_content=<a surname> / Organization?_content=<a city> infusion (alternately)
    page1      Location?near=<place>|25|mi&_count=20 (first page)
    page10     the same searches' 10th page (the `next` cursor followed nine times beforehand)

In-process (default): the Flask test client sends each URL through the whole app (routing, search,
Bundle, JSON), configured as a serving process (DIRECTORY_ENV=production), after one pass over every
URL to warm caches (that pass also checks every answer is a 200 searchset); then `--rounds` timed
passes. Figures per kind: p50, p95, max (ms), mean total; page10 / page1 (p50 and p95); peak RSS of
the process (VmHWM). `--gunicorn`: the same URLs under gunicorn (`--workers`, 2), loaded by wrk from
a second process (2 threads, 8 connections, `--duration` s; `apt-get install wrk`): requests/s,
p50/p90/p99, and each worker's RSS afterwards. In-process, besides the peak RSS (VmHWM, which counts
the SQLite file's pages mapped into memory), the process's own memory at the end (RssAnon).
Results go to bench/results/fhir-<label>.json and a markdown table on stdout.

Bar (issue 14): p95 <= 30 ms at 100k listings and <= 60 ms at 1M, each kind, on the Whoosh
backend; page10 <= 1.5 x page1; under gunicorn (2 workers) p99 <= 100 ms at 100k; worker RSS
<= 400 MB at 1M.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import percentile, proc_status_mb  # noqa: E402
from bench.stores import settings  # noqa: E402

RESULTS = ROOT / "bench" / "results"
KINDS = ("role", "chain", "near", "name", "content", "page1", "page10")
BAR_P95_MS = {100_000: 30.0, 1_000_000: 60.0}
BAR_PAGE_RATIO = 1.5
BAR_P99_MS = 100.0
BAR_RSS_MB = 400.0
ROLE_RADIUS_MI, NEAR_RADIUS_MI, PAGE_RADIUS_MI = 25, 10, 25
PAGES = 10


# --- the URLs ----------------------------------------------------------------------------------


def _sample(conn, sql: str, n: int, rng: random.Random) -> list:
    """n rows drawn (with replacement, deterministically) from a query's rows in its order."""
    from sqlalchemy import text

    rows = list(conn.execute(text(sql)))
    if not rows:
        raise SystemExit(f"bench.fhir: the data has none of: {sql}")
    return [rows[rng.randrange(len(rows))] for _ in range(n)]


def _place(lat: float, lon: float, miles: int) -> str:
    return f"{lat:.4f}|{lon:.4f}|{miles}|mi"


def build_urls(engine, n: int, seed: int) -> dict[str, list[str]]:
    """`n` URLs per kind (page10 is made from page1 by following `next` later)."""
    from sqlalchemy import text

    from directory.fhir.codes import role_specialty_allowed

    rng = random.Random(seed)
    with engine.connect() as conn:
        # Places: the locations of active listings (a ZIP's worth of them is drawn as often as it holds).
        places = _sample(conn, "select l.lat, l.lon from location l join listing g on g.id = l.listing_id "
                         "where g.active order by l.id", 3 * n, rng)
        # A role query is made from a real role accepting new patients: its place, its specialty
        # (the role's, else the practitioner's primary one), one of its practitioner's networks.
        roles = []
        for _, lid, lat, lon, code in _sample(
                conn, "select r.id, r.practitioner_id, l.lat, l.lon, r.specialty_code from role r "
                "join location l on l.id = r.location_id join listing g on g.id = r.practitioner_id "
                "where g.active and r.accepting_new_patients order by r.id", 3 * n, rng):
            held = list(conn.execute(text(
                "select s.code, s.section from listingspecialty ls join specialty s on s.code = ls.code "
                "where ls.listing_id = :lid order by ls.is_primary desc, s.code"), {"lid": lid}))
            code = code or (held[0][0] if held else None)
            section = dict(held).get(code)
            networks = [row[0] for row in conn.execute(text(
                "select network_id from participation where listing_id = :lid order by network_id"), {"lid": lid})]
            if section is not None and role_specialty_allowed(code, section) and networks:
                roles.append((lat, lon, code, networks[rng.randrange(len(networks))]))
            if len(roles) == n:
                break
        zips = [row[0] for row in _sample(conn, "select l.zip from role r join location l on l.id = r.location_id "
                                          "order by r.id", n, rng)]
        surnames = [row[0] for row in _sample(conn, "select p.last_name from practitioner p join listing g "
                                              "on g.id = p.listing_id where g.active order by p.listing_id", n, rng)]
        cities = [row[0] for row in _sample(conn, "select l.city from location l join listing g on g.id = l.listing_id "
                                            "where g.kind = 'organization' and g.active order by l.id", n, rng)]
    urls: dict[str, list[str]] = {kind: [] for kind in KINDS if kind != "page10"}
    for i in range(n):
        lat, lon, code, network = roles[i % len(roles)]
        urls["role"].append("/fhir/PractitionerRole?" + urlencode([
            ("location.near", _place(lat, lon, ROLE_RADIUS_MI)), ("specialty", code),
            ("network", f"Organization/net-{network}"), ("new-patient", "newpt"),
            ("_include", "PractitionerRole:practitioner"), ("_include", "PractitionerRole:location")]))
        urls["chain"].append("/fhir/PractitionerRole?" + urlencode([("location.address-postalcode", zips[i])]))
        lat, lon = places[n + i]
        urls["near"].append("/fhir/Location?" + urlencode([("near", _place(lat, lon, NEAR_RADIUS_MI))]))
        urls["name"].append("/fhir/Practitioner?" + urlencode([("name", surnames[i][:4].lower())]))
        if i % 2 == 0:
            urls["content"].append("/fhir/Practitioner?" + urlencode([("_content", surnames[i])]))
        else:
            urls["content"].append("/fhir/Organization?" + urlencode([("_content", f"{cities[i]} infusion")]))
        lat, lon = places[2 * n + i]
        urls["page1"].append("/fhir/Location?" + urlencode([("near", _place(lat, lon, PAGE_RADIUS_MI)),
                                                            ("_count", "20")]))
    return urls


def _relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def tenth_pages(client, firsts: list[str]) -> tuple[list[str], list[str]]:
    """(page-1 URLs, their page-10 URLs) for the first pages that have a 10th page."""
    kept, tenth = [], []
    for url in firsts:
        current = url
        for _ in range(PAGES - 1):
            bundle = client.get(current).get_json()
            following = [link["url"] for link in bundle.get("link", []) if link["relation"] == "next"]
            if not following:
                break
            current = _relative(following[0])
        else:
            kept.append(url)
            tenth.append(current)
    return kept, tenth


# --- in process --------------------------------------------------------------------------------


def in_process(config: dict, n: int, seed: int, rounds: int) -> dict:
    started = time.perf_counter()
    from directory import create_app
    from directory.db import get_engine

    # As a serving process runs (DIRECTORY_ENV=production): among other things it gc.freeze()s
    # what it holds once its index is open, and collector passes over it no longer land in requests.
    app = create_app({**config, "ENV": "production"})
    client = app.test_client()
    with app.app_context():
        urls = build_urls(get_engine(), n, seed)
    urls["page1"], urls["page10"] = tenth_pages(client, urls["page1"])
    figures: dict = {"start_s": round(time.perf_counter() - started, 2), "kinds": {}}
    totals: dict[str, list[int]] = {kind: [] for kind in urls}
    for kind, paths in urls.items():  # warm-up, and every answer must be a searchset
        for path in paths:
            response = client.get(path)
            body = response.get_json()
            if response.status_code != 200 or body.get("type") != "searchset":
                raise SystemExit(f"bench.fhir: {path} answered {response.status_code}: {response.get_data(True)[:300]}")
            totals[kind].append(body["total"])
    times: dict[str, list[float]] = {kind: [] for kind in urls}
    for _ in range(rounds):
        for kind, paths in urls.items():
            for path in paths:
                t0 = time.perf_counter()
                response = client.get(path)
                response.get_data()
                times[kind].append((time.perf_counter() - t0) * 1000)
    for kind in urls:
        figures["kinds"][kind] = {
            "queries": len(urls[kind]), "p50_ms": round(percentile(times[kind], 50), 2),
            "p95_ms": round(percentile(times[kind], 95), 2), "max_ms": round(max(times[kind]), 2),
            "mean_total": round(sum(totals[kind]) / max(1, len(totals[kind])), 1),
        }
    first, tenth = figures["kinds"]["page1"], figures["kinds"]["page10"]
    figures["page10_over_page1"] = {"p50": round(tenth["p50_ms"] / first["p50_ms"], 2),
                                    "p95": round(tenth["p95_ms"] / first["p95_ms"], 2)}
    figures["rss_mb"] = proc_status_mb("self", "VmHWM")
    # VmHWM counts the pages of the SQLite file mapped into memory (SQLITE_MMAP_MB, shared with every
    # process reading it); the process's own memory is RssAnon (read at the end: Linux keeps no peak).
    figures["rss_anon_mb"] = proc_status_mb("self", "RssAnon")
    figures["rss_file_mb"] = proc_status_mb("self", "RssFile")
    figures["urls"] = {kind: paths[:3] for kind, paths in urls.items()}
    return figures


# --- under gunicorn ----------------------------------------------------------------------------


def under_gunicorn(config: dict, args: argparse.Namespace) -> dict:
    from bench.gunicorn import Server, warm_up
    from bench.http import run_wrk
    from directory import create_app
    from directory.db import get_engine

    app = create_app(config)
    with app.app_context():
        urls = build_urls(get_engine(), args.queries, args.seed)
    urls["page1"], urls["page10"] = tenth_pages(app.test_client(), urls["page1"])
    paths = [path for kind in urls for path in urls[kind]]
    random.Random(args.seed).shuffle(paths)
    env = {**os.environ, "DIRECTORY_ENV": "production", **{k: str(v) for k, v in config.items()}}
    figures: dict = {"workers": args.workers, "duration_s": args.duration, "urls": len(paths)}
    with tempfile.TemporaryDirectory(prefix="bench-fhir-") as work, \
            Server(env, args.workers, Path(work) / "gunicorn.log") as server:
        server.wait_for("/healthz")
        server.check_workers()
        figures["warm_up_s"] = round(warm_up(server.base, paths, args.workers * 2), 1)
        figures["mix"] = {k: v for k, v in run_wrk(server.base, args, paths, Path(work), "fhir").items()
                          if k != "wrk_output"}
        figures["memory"] = server.memory()
    return figures


# --- report ------------------------------------------------------------------------------------


def print_table(report: dict) -> None:
    label = report["label"]
    if "in_process" in report:
        result = report["in_process"]
        bar = BAR_P95_MS.get(report["listings"])
        print(f"\n{label}: {report['listings']:,} listings, backend {report['backend']}, "
              f"{report['rounds']} timed pass(es), peak RSS {result['rss_mb']} MB (at the end: own memory "
              f"RssAnon {result.get('rss_anon_mb')} MB, mapped files RssFile {result.get('rss_file_mb')} MB)")
        print("| kind | queries | p50 ms | p95 ms | max ms | mean total |")
        print("|---|---|---|---|---|---|")
        for kind, row in result["kinds"].items():
            over = " (over the bar)" if bar is not None and row["p95_ms"] > bar and kind != "page1" else ""
            print(f"| {kind} | {row['queries']} | {row['p50_ms']} | {row['p95_ms']}{over} | {row['max_ms']} | "
                  f"{row['mean_total']:,} |")
        ratio = result["page10_over_page1"]
        print(f"page10 / page1: p50 {ratio['p50']}, p95 {ratio['p95']} (bar {BAR_PAGE_RATIO})")
    if "gunicorn" in report:
        g = report["gunicorn"]
        mix = g["mix"]
        workers = ", ".join(f"{m['VmRSS']} MB (peak {m['VmHWM']})" for m in g["memory"]["workers"].values())
        print(f"\n{label} under gunicorn ({g['workers']} workers, {g['urls']} URLs, {g['duration_s']} s): "
              f"{mix.get('requests_per_s')} req/s, p50 {mix.get('p50_ms')} ms, p90 {mix.get('p90_ms')} ms, "
              f"p99 {mix.get('p99_ms')} ms (bar {BAR_P99_MS:g}); workers {workers}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="bench data folder (bench.sqlite3, index/)")
    parser.add_argument("--backend", choices=["whoosh", "postgres"], default="whoosh", help="SEARCH_BACKEND")
    parser.add_argument("--database-url", help="the store (default: the folder's SQLite); PostgreSQL for postgres")
    parser.add_argument("--queries", type=int, default=300, help="distinct URLs per kind")
    parser.add_argument("--rounds", type=int, default=1, help="timed passes over the URLs")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--gunicorn", action="store_true", help="load the URLs under gunicorn with wrk instead")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=20, help="seconds of wrk")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--label", help="results go to bench/results/fhir-<label>.json")
    args = parser.parse_args()
    if args.backend == "postgres" and not (args.database_url or "").startswith("postgresql"):
        parser.error("--backend postgres needs --database-url postgresql+psycopg://...")
    config = settings(args.dir.resolve())
    config["SEARCH_BACKEND"] = args.backend
    if args.database_url:
        config["DATABASE_URL"] = args.database_url
    from sqlalchemy import create_engine, text

    engine = create_engine(config["DATABASE_URL"])
    with engine.connect() as conn:
        listings = conn.execute(text("select count(*) from listing")).scalar_one()
    engine.dispose()
    label = args.label or f"{listings}-{args.backend}" + ("-gunicorn" if args.gunicorn else "")
    report: dict = {"label": label, "listings": listings, "backend": args.backend, "queries": args.queries,
                    "rounds": args.rounds, "seed": args.seed, "cpus": os.cpu_count()}
    if args.gunicorn:
        report["gunicorn"] = under_gunicorn(config, args)
    else:
        report["in_process"] = in_process(config, args.queries, args.seed, args.rounds)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"fhir-{label}.json").write_text(json.dumps(report, indent=2))
    print_table(report)


if __name__ == "__main__":
    main()
