"""Benchmark: N demo listings, indexed by each search backend, one fixed query mix timed side by side.

    python -m bench.run --count 100000                        # build everything, then measure
    python -m bench.run --count 1000000 --reuse               # reuse data and indexes built earlier
    python -m bench.run --count 100000 --reindex              # reuse the data, rebuild the indexes
    python -m bench.run --count 100000 --backends whoosh,naive   # without PostgreSQL
    python -m bench.run --count 1000000 --build-only          # build data and indexes, measure later
    python -m bench.run --count 100000 --geocoded             # the geocoded variant (see below)

Backends (--backends, default all three) and their stores:

    whoosh    the Whoosh backend over a SQLite database in bench/data/<count>/ (index in .../index)
    postgres  the PostgreSQL backend (SEARCH_BACKEND=postgres) over database bench_<count> on
              --pg-url (default: the local server, trust auth; the database is created through the
              server's `test` database)
    naive     bench/naive.py, the SQL-only baseline, over the same SQLite database as whoosh

Both stores hold the same deterministic demo data: `demo.generate(engine, count=N, seed=--seed)` in
a fresh database (verification dates depend on the day it runs; the query mix does not use them).

--geocoded: the geocoded variant. The same listings, but each location at its own point spread
within 1.5 mi of its ZIP's centroid (`demo.generate(..., geocoded=True)`, the points of
directory/geocoding/spread.py, as `seed-demo --geocoded`), so that no two locations share a place
(the plain variant has every location of a ZIP at its centroid). Its stores are apart:
bench/data/<count>-geocoded/ and database bench_<count>_geocoded; results in
bench/results/<count>-geocoded.json, labelled "geocoded".

Figures, per backend: data generation time; index build time, rate and size (whoosh: the index
folder; postgres: the tables named search_* with their indexes and TOAST, plus any index named
search_* on another table; naive: its `prepare` step); then, each backend in its own fresh process
(`--phase serve`): start time (imports, app, searcher open, one search), peak RSS of that process
(VmHWM; for postgres the server process it talks to is reported apart: private memory and shared
buffers touched) and p50/p95/first ms of each query kind of the mix. Every phase records each
query's result total, and the report counts the queries whose postgres (and naive) total differs
from whoosh's: a cheap check that both backends answer the same queries. Results go to
bench/results/<count>.json (see bench/growth.py) and tables on stdout.
Build records are kept in bench/data/<count>/build.json so that --reuse can report them again.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stores import (  # noqa: E402
    PG_URL,
    app_settings,
    code_fingerprint,
    load_records,
    prepare,
    save_records,
    variant_name,
)
from directory.search.query import Place, SearchQuery  # noqa: E402

MIX = ("patient", "physician", "text", "typo_name", "metro_facets")
BACKENDS = ("whoosh", "postgres", "naive")
WARM_UP = SearchQuery(place=Place(42.3427, -71.0922, 25), sort="distance")
MISMATCH_EXAMPLES = 5  # mismatching queries kept in the report per kind


# -- the query mix -----------------------------------------------------------------------------


def metro_centres() -> list[tuple[float, float, str]]:
    from directory.geo import lookup_zip

    with open(ROOT / "seed_data/demo/metros.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["kind"] == "metro"]
    return [(p.lat, p.lon, p.zip) for p in (lookup_zip(r["center_zip"]) for r in rows)]


def misspell(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # swap two neighbouring letters


@functools.cache
def surnames() -> list[str]:
    """The demo's surnames of six letters or more (the typo_name queries misspell them)."""
    with open(ROOT / "seed_data/demo/last_names.txt", encoding="utf-8") as names:
        return [w.strip() for w in names if len(w.strip()) >= 6]


def queries(kind: str, n: int, networks: list[int], seed: int = 7) -> list[SearchQuery]:
    """The fixed query mix: `n` queries of one kind, varied deterministically (the first k of n
    queries are the same for every n)."""
    rng = random.Random(f"{seed}-{kind}")
    centres = metro_centres()
    names = surnames()
    out = []
    for _ in range(n):
        lat, lon, zip5 = rng.choice(centres)
        if kind == "patient":
            q = SearchQuery(place=Place(lat, lon, 25, zip5), networks=(rng.choice(networks),),
                            accepting=True, sort="distance")
        elif kind == "physician":
            q = SearchQuery(place=Place(lat, lon, 50, zip5), networks=(rng.choice(networks),),
                            specialties=tuple(rng.sample(["207RR0500X", "2084N0400X", "207K00000X",
                                                          "2084N0008X", "207N00000X"], 2)),
                            sort="distance")
        elif kind == "text":
            q = SearchQuery(q="dermatomyositis IVIG", place=Place(lat, lon, 100, zip5), sort="distance")
        elif kind == "typo_name":
            q = SearchQuery(q=misspell(rng.choice(names).lower(), rng), sort="relevance")
        else:
            q = SearchQuery(place=Place(lat, lon, 50, zip5), sort="distance")
        out.append(q)
    return out


def queries_per_kind(backend: str, iterations: int) -> int:
    return max(10, iterations // 5) if backend == "naive" else iterations


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# -- serving (fresh process) -------------------------------------------------------------------


def serve_phase(backend: str, app_config: dict, iterations: int) -> dict:
    """Run in a fresh process: start time, the query mix with each result total, then peak memory."""
    started = time.perf_counter()
    from sqlalchemy import text

    from directory import create_app
    from directory.db import get_engine

    code = code_fingerprint()
    app = create_app(app_config)
    with app.app_context():
        engine = get_engine()
        if backend == "naive":
            from bench import naive

            def search(query: SearchQuery) -> int:
                return naive.search(engine, query)[0]
        else:
            from directory.search import get_searcher

            searcher = get_searcher()

            def search(query: SearchQuery) -> int:
                return searcher.search(query).total

        search(WARM_UP)
        figures: dict = {"start_s": round(time.perf_counter() - started, 2), "code": code,
                         "queries": {}, "totals": {}}
        with engine.connect() as conn:
            networks = list(conn.execute(text("select id from network order by id")).scalars())
        for kind in MIX:
            times, totals = [], []
            for query in queries(kind, queries_per_kind(backend, iterations), networks):
                t0 = time.perf_counter()
                totals.append(search(query))
                times.append((time.perf_counter() - t0) * 1000)
            figures["queries"][kind] = {
                "p50_ms": round(percentile(times, 50), 2),
                "p95_ms": round(percentile(times, 95), 2),
                "first_ms": round(times[0], 2),
                "mean_results": round(sum(totals) / len(totals)),
            }
            figures["totals"][kind] = totals
        if backend == "postgres":
            figures["server"] = pg_server(engine)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (large) parent process.
    figures["rss_mb"] = proc_status_mb("self", "VmHWM")
    return figures


def proc_status_mb(pid: int | str, field: str) -> float | None:
    """A memory figure of /proc/<pid>/status in MB (None when that process cannot be read)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return round(int(status.split(f"{field}:")[1].split()[0]) / 1024, 1)


def pg_server(engine) -> dict:
    """The server's version and memory settings, and (server on this machine) the memory of the
    largest server process serving this database: private (RssAnon) and shared buffers touched (RssShmem)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        server = {name: conn.execute(text(f"show {name}")).scalar_one()
                  for name in ("server_version", "shared_buffers", "work_mem", "effective_cache_size")}
        pids = list(conn.execute(text("select pid from pg_stat_activity where datname = current_database()")).scalars())
        for field, key in (("RssAnon", "backend_private_mb"), ("RssShmem", "backend_shared_mb")):
            sizes = [proc_status_mb(pid, field) for pid in pids]
            server[key] = max(sizes) if sizes and None not in sizes else None
    return server


def serve(backend: str, args, data_dir: Path) -> dict:
    """`serve_phase` in a fresh interpreter."""
    served = subprocess.run(
        [sys.executable, "-m", "bench.run", "--phase", "serve", "--backends", backend,
         "--dir", str(data_dir), "--iterations", str(args.iterations), "--count", str(args.count),
         "--pg-url", args.pg_url, *(["--geocoded"] if args.geocoded else []),
         *(["--pg-db", args.pg_db] if args.pg_db else [])],
        cwd=ROOT, capture_output=True, text=True,
    )
    if served.returncode != 0:
        sys.stderr.write(served.stderr)
        last = (served.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"serve phase failed (exit {served.returncode}): {last}"}
    return json.loads(served.stdout.strip().splitlines()[-1])


def cross_check(totals: dict[str, dict[str, list[int]]], reference: str = "whoosh") -> dict:
    """Per backend and query kind: queries compared, and mismatching totals against `reference`
    (over the queries both ran; the first k queries of a kind are the same whatever n)."""
    out: dict = {}
    if reference not in totals:
        return out
    for backend, by_kind in totals.items():
        if backend == reference:
            continue
        check: dict = {"compared": 0, "mismatches": 0, "by_kind": {}, "examples": []}
        for kind, mine in by_kind.items():
            theirs = totals[reference][kind]
            pairs = list(zip(mine, theirs, strict=False))  # naive runs fewer queries per kind
            wrong = [i for i, (a, b) in enumerate(pairs) if a != b]
            check["compared"] += len(pairs)
            check["mismatches"] += len(wrong)
            check["by_kind"][kind] = len(wrong)
            check["examples"] += [
                {"kind": kind, "query": i, backend: mine[i], reference: theirs[i]}
                for i in wrong[:MISMATCH_EXAMPLES]
            ]
        out[f"{backend}_vs_{reference}"] = check
    return out


# -- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=200, help="queries per kind (naive: a fifth)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated, of " + ",".join(BACKENDS))
    parser.add_argument("--pg-url", default=PG_URL, help="PostgreSQL server (database bench_<count> on it)")
    parser.add_argument("--pg-db", default=None,
                        help="PostgreSQL database name (default bench_<count>, bench_<count>_geocoded)")
    parser.add_argument("--results", type=Path, default=None,
                        help="report file (default bench/results/<count>[-geocoded].json)")
    parser.add_argument("--dir", type=Path, default=None, help="SQLite data folder (default bench/data/<count>)")
    parser.add_argument("--reuse", action="store_true", help="reuse existing data and indexes (build what is missing)")
    parser.add_argument("--reindex", action="store_true", help="reuse existing data, rebuild the indexes")
    parser.add_argument("--geocoded", action="store_true",
                        help="the geocoded variant: every location at its own point within its ZIP")
    parser.add_argument("--build-only", action="store_true", help="build (or reuse) data and indexes, measure nothing")
    parser.add_argument("--phase", choices=["all", "serve"], default="all", help=argparse.SUPPRESS)
    args = parser.parse_args()
    variant = variant_name(args.count, args.geocoded)
    data_dir = args.dir or ROOT / "bench" / "data" / variant
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - set(BACKENDS)
    if unknown or not backends:
        parser.error(f"--backends: choose among {', '.join(BACKENDS)}")
    backends = [b for b in BACKENDS if b in backends]  # build whoosh's store before naive uses it

    if args.phase == "serve":
        (backend,) = backends
        config = app_settings(backend, data_dir, args.pg_url, args.count, args.geocoded, args.pg_db)
        print(json.dumps(serve_phase(backend, config, args.iterations)))
        return

    records = load_records(data_dir)
    report: dict = {"count": args.count, "variant": "geocoded" if args.geocoded else "plain",
                    "cpus": os.cpu_count(), "seed": args.seed, "iterations": args.iterations,
                    "loadavg": {"start": loadavg()}, "backends": {}}
    for backend in backends:
        started = time.perf_counter()
        record = prepare(backend, args, data_dir, records)
        save_records(data_dir, records, backend)
        print(f"{backend}: ready in {time.perf_counter() - started:.1f} s {json.dumps(record)}", flush=True)
        report["backends"][backend] = {"build": record}
    if args.build_only:
        return
    totals = {}
    for backend in backends:
        before = loadavg()
        figures = serve(backend, args, data_dir)
        figures["loadavg"] = {"before": before, "after": loadavg()}
        if "totals" in figures:
            totals[backend] = figures.pop("totals")
        report["backends"][backend].update(figures)
        print(f"{backend}: {figures.get('error', 'served')}", flush=True)
    report["cross_check"] = cross_check(totals)

    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (args.results or out / f"{variant}.json").write_text(json.dumps(report, indent=2))
    print_table(report)


def loadavg() -> list[float]:
    """The machine's load averages over 1, 5 and 15 minutes (/proc/loadavg): the benchmark's
    figures depend on what else runs."""
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def cell(value) -> str:
    if value is None:
        return "–"
    return f"{value:,}" if isinstance(value, int) else str(value)


def print_table(report: dict) -> None:
    results = report["backends"]
    for name, result in results.items():
        if "error" in result:
            print(f"\n{name}: {result['error']}")
        elif result["build"].get("code", result["code"]) != result["code"]:
            print(f"\n{name}: WARNING index built by search code {result['build']['code']}, "
                  f"served by {result['code']} (rebuild: --reindex)")
    names = [name for name, result in results.items() if "error" not in result]
    variant = f" ({report['variant']})" if report.get("variant", "plain") != "plain" else ""
    print(f"\n{report['count']:,} listings{variant}, {report['cpus']} CPUs, {report['iterations']} queries per kind"
          + (f" ({queries_per_kind('naive', report['iterations'])} for naive)" if "naive" in names else ""))
    print("| backend | generate s | index build s | listings/s | index MB | store MB | start s | RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        b, r = results[name]["build"], results[name]
        rate = b.get("index_rate_per_s")
        print(f"| {name} | {cell(b.get('generate_s'))} | {cell(b.get('index_build_s'))} | {cell(rate)} | "
              f"{cell(b.get('index_size_mb'))} | {cell(b.get('store_mb'))} | {r['start_s']} | {r['rss_mb']} |")
    server = results.get("postgres", {}).get("server")
    if server:
        print(f"(postgres: RSS is the client process; the server process serving it held "
              f"{server['backend_private_mb']} MB private + {server['backend_shared_mb']} MB of shared buffers; "
              f"PostgreSQL {server['server_version']}, shared_buffers {server['shared_buffers']}, "
              f"work_mem {server['work_mem']})")
    print("\n| query | " + " | ".join(f"{n} p50 | {n} p95 | {n} first" for n in names) + " |")
    print("|---|" + "---|---|---|" * len(names))
    for kind in MIX:
        row = [f"{q['p50_ms']} | {q['p95_ms']} | {q['first_ms']}" for q in (results[n]["queries"][kind] for n in names)]
        print(f"| {kind} | " + " | ".join(row) + " |")
    print("(ms; first = the first query of that kind in the process, after one warm-up search)")
    for name in names:
        if "loadavg" in results[name]:
            print(f"load average (1, 5, 15 min) {name}: before {results[name]['loadavg']['before']}, "
                  f"after {results[name]['loadavg']['after']}")
    for pair, check in report.get("cross_check", {}).items():
        verdict = "all equal" if not check["mismatches"] else f"{check['mismatches']} MISMATCHES"
        per_kind = ", ".join(f"{k} {v}" for k, v in check["by_kind"].items())
        print(f"result totals {pair.replace('_vs_', ' vs ')}: {check['compared']} queries compared, "
              f"{verdict} ({per_kind})")
    if "naive" in names:
        print("(naive matches words with LIKE, without typo tolerance: its typo_name totals differ by design)")


if __name__ == "__main__":
    main()
