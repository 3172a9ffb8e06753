"""Load with concurrent staff: the service under gunicorn, public traffic and staff writes at once.

    python -m bench.load --count 20000                        # both backends, 60 s, 32 clients
    python -m bench.load --count 20000 --backend whoosh --duration 20
    python -m bench.load --count 100000 --backend whoosh --dir bench/data/100000   # reuse a data folder

Data: a folder of N demo listings (--dir, default bench/data/load-<count>; built by bench.stores when
missing) for Whoosh, and the database bench_load_<count> (built when missing, on --pg-url, created
through the server's `test` database) for PostgreSQL. Each run works on a copy (a temporary folder;
`create database ... template`), migrated to the code's head as a deployment would be, so the data
it starts from is never changed.

The run: `gunicorn wsgi:app` with --workers (2) on a loopback port, DIRECTORY_ENV=production, a
random SECRET_KEY and TRUSTED_PROXIES=1 (clients send X-Forwarded-For/-Proto as the TLS proxy in
front of a deployment would; every rate limit keeps its default). For --duration seconds, --clients
threads: the staff accounts (--editors edit and --checkers verify the same --shared organizations,
chosen at random, so stale versions happen; --verifiers verify from the head of the verification
queue), each signed in once, and anonymous visitors making the rest of the mix (API and page
searches from the benchmark's query mix, provider pages, CSV exports, problem reports). See
bench/load_clients.py for what counts as ok, stale, limited and failure.

Afterwards (bench/load_checks.py): each acknowledged write is in the database, the audit log and
the search results, nothing refused was written, and `flask --app wsgi check-index` exits 0.
The load average (/proc/loadavg) is recorded before and after (the machine may be shared).
Results: bench/results/load-<backend>-<count>.json and a markdown table; exit 1 on any failure or problem.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import secrets
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load_checks  # noqa: E402
from bench.gunicorn import Server, children, warm_up  # noqa: E402
from bench.load_clients import Client, Recorder  # noqa: E402
from bench.load_staff import StaffAccount, sign_in, staff  # noqa: E402
from bench.load_visitors import PublicTargets, anonymous  # noqa: E402
from bench.run import percentile  # noqa: E402
from bench.stores import PG_URL, listing_count, pg_admin_run  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PROTECTED = {"bench_100000", "bench_1000000", "test", "postgres"}  # databases this script never writes
KIND_ORDER = ("search_api", "search_page", "provider", "export", "report", "staff_form", "staff_edit",
              "staff_queue", "staff_verify")


# --- the run ------------------------------------------------------------------------------------

def prepare_run(settings: dict, jobs: dict[str, int], shared: int, seed: int, searches: int):
    """Staff accounts, what the clients will ask for, and the database as it is before the run."""
    from sqlalchemy import text

    from bench.http import search_paths
    from directory import create_app
    from directory.cli import init_db
    from directory.db import get_engine, session_scope
    from directory.services.accounts import create_staff

    rng = random.Random(seed)
    app = create_app(settings)
    accounts = []
    with app.app_context():
        engine = get_engine()
        init_db()  # as a deployment does: the copy's schema at this code's head (data built earlier)
        tag = secrets.token_hex(3)  # a run may reuse a database that has earlier runs' accounts
        with session_scope() as session:
            for job, count in jobs.items():
                for i in range(count):
                    account = StaffAccount(f"load-{job}-{i + 1}-{tag}@example.org", secrets.token_urlsafe(16), job)
                    create_staff(session, email=account.email, role="editor" if job == "editor" else
                                 "verifier" if job == "verifier" else "admin", password=account.password,
                                 actor="bench.load")
                    accounts.append(account)
        with engine.connect() as conn:
            active = list(conn.execute(text("select id from listing where active order by id")).scalars())
            organizations = list(conn.execute(text(
                "select l.id from listing l where l.active and l.kind = 'organization' and exists "
                "(select 1 from location x where x.listing_id = l.id) order by l.id")).scalars())
        shared_ids = rng.sample(organizations, min(shared, len(organizations)))
        listings = rng.sample(active, min(2000, len(active)))
        # About a sixth of the reports are about the shared listings (verifying them resolves reports).
        targets = PublicTargets(
            searches=[path.split("?", 1)[1] for paths in search_paths(settings["DATABASE_URL"], searches).values()
                      for path in paths],
            listings=listings, report_listings=listings[:500] + shared_ids * 2)
        before = load_checks.snapshot(engine)
        engine.dispose()
    return accounts, shared_ids, targets, before


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes have used so far."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_load(settings: dict, work: Path, *, duration: float = 60, clients: int = 32, editors: int = 3,
             checkers: int = 2, verifiers: int = 2, shared: int = 50, workers: int = 2, visitor_requests: int = 20,
             queue_head: int = 5, searches: int = 200, warm: int = 40, seed: int = 11) -> dict:
    """Serve the app of `settings` (DATABASE_URL, INDEX_DIR, SEARCH_BACKEND) under gunicorn, load it,
    check it afterwards; returns the report (its "problems" and failure counts say whether it passed)."""
    from sqlalchemy import create_engine

    jobs = {"editor": editors, "checker": checkers, "verifier": verifiers}
    if sum(jobs.values()) >= clients:
        raise ValueError("--clients must leave room for anonymous visitors beside the staff")
    phases = {"began": time.perf_counter()}
    settings = {**settings, "SECRET_KEY": secrets.token_hex(16)}
    accounts, shared_ids, targets, before = prepare_run(settings, jobs, shared, seed, searches)
    phases["prepared"] = time.perf_counter()
    env = {**os.environ, **{k: str(v) for k, v in settings.items()}, "DIRECTORY_ENV": "production",
           "TRUSTED_PROXIES": "1", "INSTANCE_PATH": str(work / "instance"), "MAP_TILE_URL": ""}
    for key in ("RATELIMIT_ENABLED", "EXPORT_RATE_LIMIT", "DEEP_PAGE_RATE_LIMIT", "RATELIMIT_DEEP_PAGE"):
        env.pop(key, None)  # every limit at its default
    recorder = Recorder()
    report: dict = {"backend": settings["SEARCH_BACKEND"], "workers": workers, "clients": clients,
                    "staff": jobs, "shared_listings": len(shared_ids), "duration_s": duration,
                    "visitor_requests": visitor_requests, "cpus": os.cpu_count()}
    with Server(env, workers, work / "gunicorn.log") as server:
        report["start_s"] = round(server.wait_for("/healthz"), 2)
        server.check_workers()
        warm_up(server.base, ["/api/v1/search?" + q for q in targets.searches[:warm]], 4)
        rng = random.Random(seed)
        staff_clients = []
        for account in accounts:
            client = Client(server.base, recorder, random.Random(rng.random()))
            sign_in(client, account)
            staff_clients.append((client, account))
        stop = threading.Event()
        threads = [threading.Thread(target=staff, args=(client, account, shared_ids, stop, queue_head))
                   for client, account in staff_clients]
        threads += [threading.Thread(target=anonymous, args=(server.base, recorder, targets,
                                                             random.Random(rng.random()), stop, visitor_requests))
                    for _ in range(clients - len(accounts))]
        report["loadavg_before"] = loadavg()
        workers_pids = children(server.process.pid)
        cpu_before = cpu_s(workers_pids), own_cpu_s()
        started = phases["served"] = time.perf_counter()
        try:
            for thread in threads:
                thread.start()
            stop.wait(duration)
        finally:  # stopped early too (Ctrl-C, SIGTERM): the clients end with their current request
            stop.set()
            for thread in threads:
                thread.join()
        report["elapsed_s"] = round(time.perf_counter() - started, 1)
        report["loadavg_after"] = loadavg()
        # Of the machine's CPU seconds in the run, what the server's workers and this client used.
        report["cpu_s"] = {"available": round(report["elapsed_s"] * (os.cpu_count() or 1), 1),
                           "gunicorn_workers": round(cpu_s(workers_pids) - cpu_before[0], 1),
                           "load_clients": round(own_cpu_s() - cpu_before[1], 1)}
        phases["loaded"] = time.perf_counter()
        problems, report["search_check"] = load_checks.check_search(server.base, recorder.writes)
        report["gunicorn_log_tail"] = server.log_tail(40).splitlines()
        report["workers_after"] = len(server.memory()["workers"])
    found, report["index_check"] = load_checks.check_index(env)
    problems += found
    engine = create_engine(settings["DATABASE_URL"])
    try:
        found, report["write_check"] = load_checks.check_writes(engine, before, recorder.writes,
                                                                {a.email for a in accounts})
        problems += found
        found, report["report_check"] = load_checks.check_reports(engine, before, recorder.reports)
        problems += found
    finally:
        engine.dispose()
    phases["checked"] = time.perf_counter()
    marks = list(phases.items())
    report["phases_s"] = {name: round(at - marks[i][1], 1) for i, (name, at) in enumerate(marks[1:])}
    report["kinds"] = summarise(recorder, report["elapsed_s"])
    report["acknowledged"] = {"edits": sum(w.kind == "edit" for w in recorder.writes),
                              "verifications": sum(w.kind == "verify" for w in recorder.writes),
                              "reports": len(recorder.reports)}
    report["problems"] = problems
    report["failures"] = sum(k["failures"] for k in report["kinds"].values())
    return report


def summarise(recorder: Recorder, elapsed_s: float) -> dict:
    kinds = {}
    for kind in sorted(recorder.tallies, key=lambda k: KIND_ORDER.index(k) if k in KIND_ORDER else 99):
        tally = recorder.tallies[kind]
        times = tally.latencies_ms or [0.0]
        kinds[kind] = {"requests": tally.requests, "ok": tally.ok, "stale": tally.stale, "limited": tally.limited,
                       "failures": tally.failures, "per_s": round(tally.requests / elapsed_s, 1),
                       "p50_ms": round(percentile(times, 50), 1), "p99_ms": round(percentile(times, 99), 1),
                       "failure_samples": tally.failure_samples}
    return kinds


# --- data ---------------------------------------------------------------------------------------

def whoosh_copy(source: Path, count: int, seed: int, work: Path) -> dict:
    """Settings of a copy, in `work`, of the Whoosh data folder `source` (built there if missing)."""
    from bench.stores import build, settings

    database = source / "bench.sqlite3"
    found = listing_count(settings(source)["DATABASE_URL"]) if database.exists() else None
    if found is None or not (source / "index").is_dir():
        if database.exists():
            sys.exit(f"{source} holds a store without an index or listings; use another --dir")
        print(f"building {count} listings and the Whoosh index in {source} ...", file=sys.stderr, flush=True)
        build("whoosh", source, PG_URL, count, seed, generate=True)
    elif found != count:
        sys.exit(f"{source} holds {found} listings, not {count}: give --count {found} or another --dir")
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as src, \
            closing(sqlite3.connect(work / "bench.sqlite3")) as dst:
        src.backup(dst)
    shutil.copytree(source / "index", work / "index")
    return {**settings(work), "SEARCH_BACKEND": "whoosh"}


def postgres_copy(pg_url: str, count: int, seed: int, work: Path) -> tuple[dict, str]:
    """Settings of a fresh copy of database bench_load_<count> (built when missing), and its name."""

    source, copy = f"bench_load_{count}", f"bench_load_{count}_run"
    base = pg_url.rstrip("/")
    if listing_count(f"{base}/{source}") != count:
        print(f"building {count} listings in database {source} ...", file=sys.stderr, flush=True)
        build_postgres(pg_url, source, count, seed)
    pg_admin_run(pg_url, f'drop database if exists "{copy}" with (force)',
                 f'create database "{copy}" template "{source}"')
    return {"DATABASE_URL": f"{base}/{copy}", "INDEX_DIR": str(work / "unused-index"),
            "SEARCH_BACKEND": "postgres"}, copy


def build_postgres(pg_url: str, name: str, count: int, seed: int) -> None:
    from sqlalchemy import text

    from directory import create_app, demo
    from directory.cli import init_db
    from directory.db import get_engine
    from directory.search import rebuild_index

    if name in PROTECTED:
        raise SystemExit(f"refusing to write database {name}")
    pg_admin_run(pg_url, f'drop database if exists "{name}" with (force)', f'create database "{name}"')
    app = create_app({"DATABASE_URL": f"{pg_url.rstrip('/')}/{name}", "SECRET_KEY": "bench",
                      "SEARCH_BACKEND": "postgres", "INDEX_DIR": "/nonexistent"})
    with app.app_context():
        engine = get_engine()
        init_db()
        demo.generate(engine, count=count, seed=seed)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("vacuum analyze"))
        rebuild_index(app)
        engine.dispose()


def drop_database(pg_url: str, name: str) -> None:

    if name in PROTECTED:
        raise SystemExit(f"refusing to drop database {name}")
    pg_admin_run(pg_url, f'drop database if exists "{name}" with (force)')


# --- the report ---------------------------------------------------------------------------------

def print_table(report: dict) -> None:
    staff_jobs = ", ".join(f"{n} {job}s" for job, n in report["staff"].items())
    print(f"\n{report['backend']}, {report['listings']:,} listings: gunicorn {report['workers']} workers, "
          f"{report['clients']} clients ({staff_jobs} on {report['shared_listings']} shared listings), "
          f"{report['elapsed_s']} s; load average {report['loadavg_before'][0]} before, "
          f"{report['loadavg_after'][0]} after, {report['cpus']} CPUs; CPU seconds used by the gunicorn workers "
          f"{report['cpu_s']['gunicorn_workers']}, by the load clients {report['cpu_s']['load_clients']}, "
          f"of {report['cpu_s']['available']}")
    print("| kind | requests | per s | ok | stale (409) | limited (429) | failures | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, row in report["kinds"].items():
        print(f"| {kind} | {row['requests']:,} | {row['per_s']} | {row['ok']:,} | {row['stale']:,} | "
              f"{row['limited']:,} | {row['failures']:,} | {row['p50_ms']} | {row['p99_ms']} |")
    total = sum(row["requests"] for row in report["kinds"].values())
    ack = report["acknowledged"]
    print(f"\n{total:,} requests, {report['failures']} failures; acknowledged: {ack['edits']} edits, "
          f"{ack['verifications']} verifications, {ack['reports']} reports")
    print(f"checks: check-index exit {report['index_check']['check_index_exit']}; "
          f"{report['write_check']['listings_written']} listings written, "
          f"{report['search_check']['names_searched']} names found by search, "
          f"{report['search_check']['replaced_names_searched']} replaced names not found; "
          f"{len(report['problems'])} problems")
    for problem in report["problems"][:20]:
        print(f"  PROBLEM: {problem}")
    for kind, row in report["kinds"].items():
        for sample in row["failure_samples"]:
            print(f"  FAILED {kind}: {sample}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000, help="listings in the data set")
    parser.add_argument("--dir", type=Path, help="Whoosh data folder (default bench/data/load-<count>); "
                        "only read, the run works on a copy")
    parser.add_argument("--backend", choices=["whoosh", "postgres", "both"], default="both")
    parser.add_argument("--pg-url", default=PG_URL, help="PostgreSQL server (database bench_load_<count>)")
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients, staff included")
    parser.add_argument("--editors", type=int, default=3)
    parser.add_argument("--checkers", type=int, default=2, help="admins verifying the shared listings")
    parser.add_argument("--verifiers", type=int, default=2, help="verifiers working from the queue")
    parser.add_argument("--shared", type=int, default=50, help="organizations the editors and checkers share")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--visitor-requests", type=int, default=20,
                        help="requests per anonymous visitor (one address) before the thread becomes another")
    parser.add_argument("--seed", type=int, default=42, help="demo data seed")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench.load: terminated"))
    backends = ["whoosh", "postgres"] if args.backend == "both" else [args.backend]
    options = {k: getattr(args, k) for k in ("duration", "clients", "editors", "checkers", "verifiers", "shared",
                                             "workers", "visitor_requests")}
    failed = False
    RESULTS.mkdir(parents=True, exist_ok=True)
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            work = Path(tmp)
            copy = None
            if backend == "whoosh":
                source = (args.dir or ROOT / "bench" / "data" / f"load-{args.count}").resolve()
                settings = whoosh_copy(source, args.count, args.seed, work)
            else:
                settings, copy = postgres_copy(args.pg_url, args.count, args.seed, work)
            try:
                report = {"listings": args.count, **run_load(settings, work, **options)}
            finally:
                if copy:
                    drop_database(args.pg_url, copy)
        out = RESULTS / f"load-{backend}-{args.count}.json"
        out.write_text(json.dumps(report, indent=2))
        print_table(report)
        print(f"results: {out.relative_to(ROOT)}")
        failed = failed or bool(report["failures"] or report["problems"])
    if failed:
        sys.exit("FAILED: failures under load or problems afterwards (see above)")


if __name__ == "__main__":
    main()
