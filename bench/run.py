"""Benchmark: build N demo listings, index them, and time a fixed query mix against the naive baseline.

    python -m bench.run --count 100000          # default
    python -m bench.run --count 1000000 --reuse # reuse a database and index built earlier

Figures: index build rate and size, service start time and memory (in a fresh process), and
in-process p50/p95 of each query of the mix for the Whoosh backend and the naive baseline, side by
side in one run. Results go to bench/results/<count>.json and a table on standard output.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from directory.search.query import Place, SearchQuery  # noqa: E402

MIX = ("patient", "physician", "text", "typo_name", "metro_facets")


def settings(data_dir: Path) -> dict:
    return {
        "DATABASE_URL": f"sqlite:///{data_dir / 'bench.sqlite3'}",
        "INDEX_DIR": str(data_dir / "index"),
        "SECRET_KEY": "bench",
    }


def metro_centres() -> list[tuple[float, float, str]]:
    from directory.geo import lookup_zip

    with open(ROOT / "seed_data/demo/metros.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["kind"] == "metro"]
    return [(p.lat, p.lon, p.zip) for p in (lookup_zip(r["center_zip"]) for r in rows)]


def misspell(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # swap two neighbouring letters


def queries(kind: str, n: int, networks: list[int], seed: int = 7) -> list[SearchQuery]:
    """The fixed query mix: `n` queries of one kind, varied deterministically."""
    rng = random.Random(f"{seed}-{kind}")
    centres = metro_centres()
    surnames = [w.strip() for w in open(ROOT / "seed_data/demo/last_names.txt") if len(w.strip()) >= 6]
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
            q = SearchQuery(q=misspell(rng.choice(surnames).lower(), rng), sort="relevance")
        else:
            q = SearchQuery(place=Place(lat, lon, 50, zip5), sort="distance")
        out.append(q)
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def build(data_dir: Path, count: int, seed: int, generate: bool = True) -> dict:
    from directory import create_app, demo
    from directory.cli import init_db
    from directory.db import get_engine
    from directory.search.sync import reindex

    if generate:
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
    else:
        shutil.rmtree(data_dir / "index", ignore_errors=True)
    app = create_app(settings(data_dir))
    generated = None
    with app.app_context():
        init_db()
        if generate:
            started = time.perf_counter()
            demo.generate(get_engine(), count=count, seed=seed)
            generated = time.perf_counter() - started
        else:
            generated = json.loads((data_dir / "build.json").read_text()).get("generate_s")
        started = time.perf_counter()
        indexed = reindex(get_engine(), app.config["INDEX_DIR"])
        seconds = time.perf_counter() - started
    size = sum(f.stat().st_size for f in (data_dir / "index").rglob("*") if f.is_file())
    return {
        "listings": indexed,
        "generate_s": round(generated, 1) if generated is not None else None,
        "index_build_s": round(seconds, 1),
        "index_rate_per_s": round(indexed / seconds),
        "index_size_mb": round(size / 2**20, 1),
    }


def serve_phase(data_dir: Path, iterations: int) -> dict:
    """Run in a fresh process: start time, the Whoosh query mix, then peak memory."""

    started = time.perf_counter()
    from directory import create_app
    from directory.search import get_searcher

    app = create_app(settings(data_dir))
    with app.app_context():
        searcher = get_searcher()
        searcher.search(SearchQuery(place=Place(42.3427, -71.0922, 25), sort="distance"))
        start_s = time.perf_counter() - started
        from sqlalchemy import text

        from directory.db import get_engine

        with get_engine().connect() as conn:
            networks = list(conn.execute(text("select id from network order by id")).scalars())
        figures = {"start_s": round(start_s, 2)}
        for kind in MIX:
            times, totals = [], []
            for query in queries(kind, iterations, networks):
                t0 = time.perf_counter()
                result = searcher.search(query)
                times.append((time.perf_counter() - t0) * 1000)
                totals.append(result.total)
            figures[kind] = {
                "p50_ms": round(percentile(times, 50), 2),
                "p95_ms": round(percentile(times, 95), 2),
                "first_ms": round(times[0], 2),
                "mean_results": round(sum(totals) / len(totals)),
            }
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (large) parent process.
    status = Path("/proc/self/status").read_text()
    figures["rss_mb"] = round(int(status.split("VmHWM:")[1].split()[0]) / 1024, 1)
    return figures


def naive_phase(data_dir: Path, iterations: int) -> dict:
    from bench import naive
    from directory import create_app
    from directory.db import get_engine

    app = create_app(settings(data_dir))
    figures = {}
    with app.app_context():
        engine = get_engine()
        naive.prepare(engine)
        from sqlalchemy import text

        with engine.connect() as conn:
            networks = list(conn.execute(text("select id from network order by id")).scalars())
        for kind in MIX:
            times = []
            for query in queries(kind, max(10, iterations // 5), networks):
                t0 = time.perf_counter()
                naive.search(engine, query)
                times.append((time.perf_counter() - t0) * 1000)
            figures[kind] = {"p50_ms": round(percentile(times, 50), 2),
                             "p95_ms": round(percentile(times, 95), 2)}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None, help="data folder (default bench/data/<count>)")
    parser.add_argument("--reuse", action="store_true", help="reuse the database and index in --dir")
    parser.add_argument("--reindex", action="store_true", help="reuse the database in --dir, rebuild the index")
    parser.add_argument("--phase", choices=["all", "serve"], default="all", help=argparse.SUPPRESS)
    args = parser.parse_args()
    data_dir = args.dir or ROOT / "bench" / "data" / str(args.count)

    if args.phase == "serve":
        print(json.dumps(serve_phase(data_dir, args.iterations)))
        return

    report = {"count": args.count, "cpus": os.cpu_count()}
    if args.reuse and (data_dir / "bench.sqlite3").exists():
        report["build"] = json.loads((data_dir / "build.json").read_text())
    else:
        report["build"] = build(data_dir, args.count, args.seed, generate=not args.reindex)
        (data_dir / "build.json").write_text(json.dumps(report["build"]))
    served = subprocess.run(
        [sys.executable, "-m", "bench.run", "--phase", "serve", "--dir", str(data_dir),
         "--iterations", str(args.iterations), "--count", str(args.count)],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )
    report["whoosh"] = json.loads(served.stdout.strip().splitlines()[-1])
    report["naive"] = naive_phase(data_dir, args.iterations)

    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.count}.json").write_text(json.dumps(report, indent=2))
    print_table(report)


def print_table(report: dict) -> None:
    b, w, n = report["build"], report["whoosh"], report["naive"]
    print(f"\n{report['count']:,} listings ({b['listings']:,} indexed), {report['cpus']} CPUs")
    print(f"index build {b['index_build_s']} s = {b['index_rate_per_s']:,} listings/s; "
          f"index size {b['index_size_mb']} MB; start {w['start_s']} s; RSS {w['rss_mb']} MB")
    print("| query | whoosh p50 ms | whoosh p95 ms | first ms | naive p50 ms | naive p95 ms | speed-up p50 |")
    print("|---|---|---|---|---|---|---|")
    for kind in MIX:
        speedup = n[kind]["p50_ms"] / max(w[kind]["p50_ms"], 1e-3)
        print(f"| {kind} | {w[kind]['p50_ms']} | {w[kind]['p95_ms']} | {w[kind]['first_ms']} | "
              f"{n[kind]['p50_ms']} | {n[kind]['p95_ms']} | {speedup:.0f}x |")


if __name__ == "__main__":
    main()
