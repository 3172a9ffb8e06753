"""HTTP benchmark: throughput and latency of /api/v1/search under gunicorn, beside /healthz.

    python -m bench.run --count 20000 --dir /tmp/httpbench      # build a data folder first
    python -m bench.http --dir /tmp/httpbench --duration 20      # SQLite + Whoosh index
    python -m bench.http --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_100000 \\
        --index-dir bench/data/100000/index                     # PostgreSQL + Whoosh index
    python -m bench.http --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_100000 \
        --backend postgres                                      # PostgreSQL search backend

Starts `gunicorn wsgi:app` (DIRECTORY_ENV=production) on a free loopback port, times its start
(spawn until /healthz answers 200, and until the first search answers 200), sends every search
URL of the benchmark mix once to warm the workers and check each answers 200, then loads it with
wrk from a second process: once on /healthz (the ceiling the framework allows), once on
/api/v1/providers/<id> over 1,000 listings (a reference: one listing read from the database and
sent as JSON, no search), and once on the search mix (bench/wrk/paths.lua cycles through the
URLs; --per-kind adds one run per kind). --floor then serves bench/floor.py, where every worker
remembers each search result, and loads /healthz and the search mix again: the rest of a search
request without any engine work, i.e. the most any search engine could give.
Afterwards it reads VmRSS/VmHWM of the master and of each worker. Gunicorn's default (sync)
workers close the connection after every response, so each request includes a TCP connect;
wrk, gunicorn and the app share this machine's CPUs. Results go to
bench/results/http-<label>.json and a markdown table on standard output.

Bar: search throughput >= 35% of /healthz throughput, one listing by id >= 60%; <= 400 MB of
its own memory (RssAnon) per worker. The search URLs (--queries per kind, 1,000 by default:
5,000) are all distinct.
Needs wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bench.gunicorn import Server, warm_up
from bench.run import MIX, misspell, queries, surnames
from bench.stores import settings
from directory.geo import ZipPlace, active_zip_places, great_circle_mi, lookup_zip
from directory.search.query import SearchQuery

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "wrk" / "paths.lua"
RESULTS = ROOT / "bench" / "results"
BAR_RATIO = 0.35
BAR_PROVIDER_RATIO = 0.60
BAR_RSS_MB = 400
NEARBY_MI = 15  # a repeated search of the mix moves to a ZIP this near its centre


# --- the request list ------------------------------------------------------------------------


def search_path(query: SearchQuery) -> str:
    """The /api/v1/search URL (path and query string) that asks for `query`."""
    params: list[tuple[str, str]] = []
    if query.q:
        params.append(("q", query.q))
    if query.place:
        if query.place.zip:
            params.append(("zip", query.place.zip))
        else:
            params += [("lat", f"{query.place.lat:.6f}"), ("lon", f"{query.place.lon:.6f}")]
        params.append(("radius", f"{query.place.radius_mi:g}"))
    params += [("specialty", code) for code in query.specialties]
    params += [("network", str(n)) for n in query.networks]
    if query.kind:
        params.append(("kind", query.kind))
    if query.accepting:
        params.append(("accepting", "true"))
    if query.telehealth:
        params.append(("telehealth", "true"))
    params += [("language", code) for code in query.languages]
    params += [("service", code) for code in query.services]
    params.append(("sort", query.sort))
    if query.page != 1:
        params.append(("page", str(query.page)))
    if query.per_page != 20:
        params.append(("per_page", str(query.per_page)))
    return "/api/v1/search?" + urlencode(params)


def network_ids(database_url: str) -> list[int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("select id from network order by id")).scalars())
    finally:
        engine.dispose()


def provider_paths(database_url: str, n: int = 1000) -> list[str]:
    """`/api/v1/providers/<id>` for up to n listings spread evenly over the ids."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            count = conn.execute(text("select count(*) from listing")).scalar_one()
            step = max(1, count // n)
            ids = conn.execute(text("select id from listing where id % :step = 0 order by id limit :n"),
                               {"step": step, "n": n}).scalars()
            return [f"/api/v1/providers/{lid}" for lid in ids]
    finally:
        engine.dispose()


def zips_near(centre: str, miles: float) -> list[ZipPlace]:
    """The gazetteer's ZIPs within `miles` of the ZIP `centre` (itself included), nearest first."""
    import numpy as np

    here = lookup_zip(centre)
    places = active_zip_places()
    distance = great_circle_mi(here.lat, here.lon, np.array([p.lat for p in places]),
                               np.array([p.lon for p in places]))
    return [places[i] for i in np.argsort(distance, kind="stable") if distance[i] <= miles]


def distinct(kind: str, mix: list[SearchQuery], seed: int = 7) -> list[SearchQuery]:
    """The mix with each repeated search moved to another ZIP within NEARBY_MI of its centre, or
    (no place) to another misspelled surname (also with one letter left out), deterministically,
    so that no URL repeats: the same kind of search, not a remembered one."""
    rng = random.Random(f"{seed}-{kind}-distinct")
    seen: set[str] = set()
    nearby: dict[str, list[ZipPlace]] = {}
    out = []
    for query in mix:
        tries = 0
        while search_path(query) in seen and tries < 100:
            if query.place is not None:
                centre = query.place.zip
                if centre not in nearby:
                    nearby[centre] = zips_near(centre, NEARBY_MI)
                z = rng.choice(nearby[centre])
                query = replace(query, place=replace(query.place, lat=z.lat, lon=z.lon, zip=z.zip))
            else:  # a misspelled name: another name, two letters swapped or one left out
                name = rng.choice(surnames()).lower()
                if rng.random() < 0.5:
                    typo = misspell(name, rng)
                else:
                    i = rng.randrange(1, len(name) - 1)
                    typo = name[:i] + name[i + 1 :]
                query = replace(query, q=typo)
            tries += 1
        seen.add(search_path(query))
        out.append(query)
    return out


def search_paths(database_url: str, per_kind: int) -> dict[str, list[str]]:
    networks = network_ids(database_url)
    if not networks:
        sys.exit(f"no networks in {database_url}: is this a bench database?")
    return {kind: [search_path(q) for q in distinct(kind, queries(kind, per_kind, networks))] for kind in MIX}


def interleave(lists: list[list[str]]) -> list[str]:
    """Round-robin over the lists, so that any stretch of the result holds every kind."""
    out = []
    for i in range(max(len(items) for items in lists)):
        out += [items[i] for items in lists if i < len(items)]
    return out


# --- wrk -------------------------------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def parse_wrk(output: str) -> dict:
    """Requests/s, latency percentiles (ms), request count, errors and non-2xx/3xx from `wrk --latency`."""

    def ms(text: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()
        return round(float(number) * UNITS[unit], 3)

    figures = {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "non_2xx_3xx": 0,
        "socket_errors": {},
    }
    for percent, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", output, re.MULTILINE):
        figures[f"p{percent}_ms"] = ms(value)
    if found := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        figures["non_2xx_3xx"] = int(found.group(1))
    if found := re.search(r"Socket errors: (.*)", output):
        figures["socket_errors"] = {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", found.group(1))}
    return figures


def run_wrk(url: str, args: argparse.Namespace, paths: list[str] | None = None,
            work: Path | None = None, name: str = "") -> dict:
    command = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s",
               "--timeout", "10s", "--latency", url]
    if paths is not None:
        path_file = work / f"paths-{name}.txt"
        path_file.write_text("\n".join(paths) + "\n")
        command[-1:-1] = ["-s", str(LUA)]
        command += ["--", str(path_file)]
    print(f"  wrk {name or urlsplit(url).path}: {args.duration} s ...", file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    figures = parse_wrk(done.stdout)
    figures["wrk_output"] = done.stdout
    return figures


# --- main ------------------------------------------------------------------------------------


def main() -> None:
    try:
        run(parse_args())
    except RuntimeError as error:  # gunicorn would not start, a URL failed, wrk failed
        sys.exit(f"bench.http: {error}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dir", type=Path, help="bench data folder holding bench.sqlite3 and index/")
    source.add_argument("--database-url", help="e.g. postgresql+psycopg://postgres@127.0.0.1:5432/bench_100000")
    parser.add_argument("--index-dir", type=Path, help="Whoosh index folder (with --database-url)")
    parser.add_argument("--backend", choices=["whoosh", "postgres"], default="whoosh", help="SEARCH_BACKEND")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--queries", type=int, default=1000,
                        help="search URLs per kind of the mix (all distinct: repeats move to a nearby ZIP)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="load /healthz, one listing and the mix this many times in turn; the ratios are "
                             "the medians of each round's (for a machine shared with other work)")
    parser.add_argument("--per-kind", action="store_true", help="also one wrk run per kind of the mix")
    parser.add_argument("--floor", action="store_true",
                        help="also serve bench.floor:app (every search result remembered) and load it: "
                             "the throughput with a search engine that costs nothing")
    parser.add_argument("--no-reference", dest="reference", action="store_false",
                        help="skip the reference run on /api/v1/providers/<id> (one listing, no search)")
    parser.add_argument("--label", help="results go to bench/results/http-<label>.json")
    args = parser.parse_args()
    if args.backend == "postgres" and not (args.database_url or "").startswith("postgresql"):
        parser.error("--backend postgres needs --database-url postgresql+psycopg://...")
    if args.database_url and args.backend == "whoosh" and not args.index_dir:
        parser.error("--index-dir is needed with --database-url and --backend whoosh")
    return args


def run(args: argparse.Namespace) -> None:
    # Stopped by SIGTERM (a timeout, kill): unwind like Ctrl-C, so gunicorn is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench.http: terminated"))

    if shutil.which("wrk") is None:
        sys.exit("bench.http needs wrk, the HTTP load generator: apt-get install wrk")

    if args.dir:
        config = settings(args.dir.resolve())
        if not (args.dir / "bench.sqlite3").exists():
            sys.exit(f"no bench.sqlite3 in {args.dir}: make one with python -m bench.run --dir {args.dir}")
        label = args.label or f"{args.dir.resolve().name}-{args.backend}"
    else:
        config = {"DATABASE_URL": args.database_url}
        if args.index_dir:
            config["INDEX_DIR"] = str(args.index_dir.resolve())
        label = args.label or f"{Path(urlsplit(args.database_url).path).stem}-{args.backend}"

    by_kind = search_paths(config["DATABASE_URL"], args.queries)
    mix = interleave([by_kind[kind] for kind in MIX])
    providers = provider_paths(config["DATABASE_URL"]) if args.reference else []

    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        work = Path(tmp)
        env = {**os.environ, **config, "SEARCH_BACKEND": args.backend, "DIRECTORY_ENV": "production",
               "SECRET_KEY": secrets.token_hex(16), "INSTANCE_PATH": str(work / "instance")}
        report = {"label": label, "cpus": os.cpu_count(), "backend": args.backend,
                  "database_url": config["DATABASE_URL"], "workers": args.workers,
                  "wrk": {"threads": args.threads, "connections": args.connections, "duration_s": args.duration},
                  "search_urls": len(mix), "distinct_search_urls": len(set(mix))}
        with Server(env, args.workers, work / "gunicorn.log") as server:
            print(f"gunicorn on {server.base} with {args.workers} workers", file=sys.stderr)
            report["start"] = {"healthz_s": round(server.wait_for("/healthz"), 2),
                               "first_search_s": round(server.wait_for(mix[0]), 2)}
            server.check_workers()
            report["warm_up_s"] = round(warm_up(server.base, mix, args.connections), 1)
            report["rounds"] = []
            for _ in range(args.rounds):  # /healthz, one listing, the mix: close together each round
                report["healthz"] = run_wrk(server.base + "/healthz", args)
                if providers:
                    report["provider"] = run_wrk(server.base, args, providers, work, "provider")
                report["search"] = run_wrk(server.base, args, mix, work, "search")
                report["rounds"].append({name: report[name]["requests_per_s"]
                                         for name in ("healthz", "provider", "search") if name in report})
            if args.per_kind:
                report["kinds"] = {kind: run_wrk(server.base, args, by_kind[kind], work, kind) for kind in MIX}
            report["memory_mb"] = server.memory()
            if len(report["memory_mb"]["workers"]) != args.workers:
                print(f"warning: {len(report['memory_mb']['workers'])} workers after the load, "
                      f"not {args.workers} (did one restart?)\n{server.log_tail()}", file=sys.stderr)
        if args.floor:
            with Server(env, args.workers, work / "gunicorn-floor.log", "bench.floor:app") as server:
                print(f"gunicorn bench.floor:app on {server.base}", file=sys.stderr)
                server.wait_for("/healthz")
                # Twice: every worker then holds every result (a worker is not chosen by URL).
                for _ in range(2):
                    warm_up(server.base, mix, args.connections)
                report["floor_healthz"] = run_wrk(server.base + "/healthz", args, name="floor /healthz")
                report["floor"] = run_wrk(server.base, args, mix, work, "floor")

    # The bar is on a worker's own memory (RssAnon): SQLite's memory map of its database file
    # (SQLITE_MMAP_MB) adds the operating system's page cache, shared by every worker, to its RSS.
    workers_rss = [m.get("RssAnon", m["VmHWM"]) for m in report["memory_mb"]["workers"].values()]
    # With several rounds (a shared machine), the median of each round's ratio.
    ratio = statistics.median(r["search"] / r["healthz"] for r in report["rounds"])
    if "floor" in report:
        report["floor_ratio"] = round(
            report["floor"]["requests_per_s"] / report["floor_healthz"]["requests_per_s"], 3)
    if "provider" in report:
        report["provider_ratio"] = round(statistics.median(r["provider"] / r["healthz"] for r in report["rounds"]), 3)
    report["bar"] = {"ratio": round(ratio, 3), "ratio_ok": ratio >= BAR_RATIO,
                     "max_worker_rss_mb": max(workers_rss), "rss_ok": max(workers_rss) <= BAR_RSS_MB}

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"http-{label}.json"
    out.write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"\nresults: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")

    runs = {name: report[name] for name in ("healthz", "provider", "search", "floor_healthz", "floor")
            if name in report}
    runs.update(report.get("kinds", {}))
    failed = {name: run["non_2xx_3xx"] for name, run in runs.items() if run["non_2xx_3xx"]}
    errors = {name: run["socket_errors"] for name, run in runs.items() if any(run["socket_errors"].values())}
    if errors:
        print(f"warning: socket errors during the load: {errors}", file=sys.stderr)
    if failed:
        sys.exit(f"FAILED: responses other than 2xx/3xx under load: {failed} (see wrk_output in {out})")


def print_table(report: dict) -> None:
    h, s, start, bar = report["healthz"], report["search"], report["start"], report["bar"]
    wrk = report["wrk"]
    print(f"\n{report['label']}: gunicorn {report['workers']} workers, {report['backend']} backend, "
          f"{report['cpus']} CPUs; wrk {wrk['threads']} threads, {wrk['connections']} connections, "
          f"{wrk['duration_s']} s per run, on the same machine")
    print("| endpoint | req/s | p50 ms | p90 ms | p99 ms | requests |")
    print("|---|---|---|---|---|---|")
    rows = {"/healthz": h}
    if "provider" in report:
        rows["/api/v1/providers/<id>"] = report["provider"]
    rows.update({"search mix": s, **{f"search {k}": v for k, v in report.get("kinds", {}).items()}})
    if "floor" in report:
        rows["/healthz (bench.floor)"] = report["floor_healthz"]
        rows["search mix, results remembered (bench.floor)"] = report["floor"]
    for name, run in rows.items():
        print(f"| {name} | {run['requests_per_s']:,.0f} | {run['p50_ms']} | {run['p90_ms']} | "
              f"{run['p99_ms']} | {run['requests']:,} |")
    if len(report["rounds"]) > 1:
        print("\nreq/s per round (/healthz, one listing, search mix): " + "; ".join(
            f"{r['healthz']:,.0f}, {r.get('provider', 0):,.0f}, {r['search']:,.0f}" for r in report["rounds"]))
    verdict = "meets" if bar["ratio_ok"] else "MISSES"
    print(f"\nsearch / healthz throughput: {bar['ratio']:.0%} ({verdict} the bar of {BAR_RATIO:.0%})")
    if "provider_ratio" in report:
        verdict = "meets" if report["provider_ratio"] >= BAR_PROVIDER_RATIO else "MISSES"
        print(f"one listing by id (no search) / healthz: {report['provider_ratio']:.0%} "
              f"({verdict} the bar of {BAR_PROVIDER_RATIO:.0%})")
    if "floor_ratio" in report:
        print(f"reference, search mix with every result remembered (no engine work) / healthz: "
              f"{report['floor_ratio']:.0%}")
    rss = ", ".join(f"{m['VmRSS']} MB (peak {m['VmHWM']}; own {m.get('RssAnon')}, mapped files {m.get('RssFile')})"
                    for m in report["memory_mb"]["workers"].values())
    master = report["memory_mb"]["master"]
    verdict = "meets" if bar["rss_ok"] else "MISSES"
    print(f"RSS per worker: {rss} ({verdict} the bar of {BAR_RSS_MB} MB of its own); master {master['VmRSS']} MB")
    print(f"start: /healthz 200 after {start['healthz_s']} s, first search 200 after {start['first_search_s']} s; "
          f"warm-up "
          f"({report['search_urls']} searches) {report['warm_up_s']} s")


if __name__ == "__main__":
    main()
