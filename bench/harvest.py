"""The harvest's bar at full size, and its throughput: a source directory of N demo listings served on
loopback (our own /fhir/) harvested into an empty directory.

    .venv/bin/python -m bench.harvest --listings 5000                 # the bar: three runs, each checked
    .venv/bin/python -m bench.harvest --listings 100000 --throughput-only [--reuse-source]
    .venv/bin/python -m bench.harvest --listings 5000 --target postgres
    .venv/bin/python -m bench.harvest --listings 100000 --unfiltered-source

At 100k our own FHIR layer takes 6-7 s a page to evaluate the harvest's `specialty=` (43 codes)
over every PractitionerRole and OrganizationAffiliation (174,694 and 66,762: every page filters them
all, then keeps 100), so a harvest of it measures that, not the harvest. --unfiltered-source lets
the source answer a `specialty=` naming every code the source carries, on those two types, as if it
were absent: the same resources, since each it publishes carries one of them (checked before the
runs: the totals with and without it must be equal, else the bench stops).

The source (demo data, seed 11, SQLite + Whoosh under --folder/source) is built and served by a child
process (werkzeug, threaded); --reuse-source serves the one a previous run built for the same N. The
harvest runs in this process into an empty directory under --folder/target (SQLite + Whoosh, or
--target postgres: a throw-away database on the local server), so each run's peak RSS (VmHWM, reset
before the run through /proc/self/clear_refs) is the harvest's own, not the source's. VmHWM counts
the target's SQLite file as far as it is mapped into memory (SQLITE_MMAP_MB); the process's own
memory (RssAnon) is sampled every half second and its largest value reported beside it.

The runs and the issue's checks (tests/harvest/expected.py, read from the source's own database):
1. first, full, into the empty directory: per NPI exactly the source's participation for the
   relevant specialties; the listings are exactly the NPIs it publishes for them; the networks carry
   the source's plan types; no problem reported.
2. second, full, no change on the source: writes nothing (audit entries and index changes, before
   and after).
3. --changes practitioners' roles changed on the source (a network left, one joined, acceptance
   flipped, in turn), then an incremental run: the participation is again exactly the source's, and
   the listings it audited are exactly those changed.
Each check prints PASS or FAIL; the exit status is 1 if any failed. --throughput-only: runs 1 and 2,
no checks. Each run: resources (every entry of every page, included ones too) per second, pages,
what it wrote, peak RSS, and the load average before and after (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import requests
from sqlalchemy import func, select
from sqlmodel import Session

from directory import create_app
from directory.db import get_engine
from directory.demo import generate
from directory.harvest.client import HttpSettings
from directory.harvest.run import harvest_source
from directory.models import AuditEntry, Listing, Specialty
from directory.search import rebuild_index
from directory.services.harvest_sources import add_source
from directory.services.unit_of_work import unit_of_work
from tests.backends import PostgresServer, close_app, make_app
from tests.harvest.expected import (
    change_roles,
    expected_organizations,
    expected_participation,
    networks,
    participation,
    writes,
)

SEED = 11


class AllCodesUnfiltered:
    """WSGI middleware of the source (--unfiltered-source): a PractitionerRole or OrganizationAffiliation
    search whose `specialty=` names every code `codes` leaves it out."""

    def __init__(self, app, codes: set[str]):
        self.app, self.codes = app, codes

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").endswith(("/PractitionerRole", "/OrganizationAffiliation")):
            pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            kept = [(k, v) for k, v in pairs if not (k == "specialty" and set(v.split(",")) >= self.codes)]
            if len(kept) != len(pairs):
                environ = {**environ, "QUERY_STRING": urlencode(kept)}
        return self.app(environ, start_response)


def _serve_source(folder: str, listings: int, reuse: bool, unfiltered: bool, pipe) -> None:
    """The child process: build (or reuse) the source directory, then serve it until terminated."""
    from werkzeug.serving import make_server

    folder_path, started = Path(folder), time.perf_counter()
    marker = folder_path / "built.json"
    built = None
    if not (reuse and marker.exists() and json.loads(marker.read_text()) == {"listings": listings, "seed": SEED}):
        shutil.rmtree(folder_path, ignore_errors=True)
        folder_path.mkdir(parents=True)
        app = make_app("whoosh", folder_path)
        with app.app_context():
            generate(get_engine(), count=listings, seed=SEED)
            rebuild_index(app)
        marker.write_text(json.dumps({"listings": listings, "seed": SEED}))
        built = time.perf_counter() - started
    else:
        app = make_app("whoosh", folder_path)
    served = app
    if unfiltered:
        with Session(get_engine(app)) as s:
            served = AllCodesUnfiltered(app, set(s.execute(select(Specialty.code)).scalars()))
    server = make_server("127.0.0.1", 0, served, threaded=True)
    pipe.send((server.server_port, built))
    server.serve_forever()


def same_answers(base: str, codes: list[str]) -> bool:
    """Whether the source's role and affiliation searches find as many with `specialty=` (every
    code we carry) as without it (--unfiltered-source leaves it out)."""
    equal = True
    for kind in ("PractitionerRole", "OrganizationAffiliation"):
        with_codes = requests.get(f"{base}/{kind}", params={"_count": 1, "specialty": ",".join(codes)}).json()
        without = requests.get(f"{base}/{kind}", params={"_count": 1}).json()
        print(f"  {kind}: {without['total']} in all, {with_codes['total']} with our specialties", flush=True)
        equal = equal and without["total"] == with_codes["total"]
    return equal


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def peak_rss_mb(reset: bool = False) -> float:
    """This process's peak RSS (VmHWM) in MB; `reset` starts a new peak from the current RSS."""
    if reset:
        Path("/proc/self/clear_refs").write_text("5")
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def status_mb(field: str) -> float:
    status = Path("/proc/self/status").read_text()
    return int(status.split(f"{field}:")[1].split()[0]) / 1024


class AnonPeak(threading.Thread):
    """The largest RssAnon (the process's own memory, without the SQLite file's pages that
    SQLITE_MMAP_MB maps in, which VmHWM counts) seen every half second while it runs."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = status_mb("RssAnon")
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.peak = max(self.peak, status_mb("RssAnon"))

    def stop(self) -> float:
        self.done.set()
        self.join()
        return max(self.peak, status_mb("RssAnon"))


class Bench:
    def __init__(self, target, source_app, source_id: int, page_size: int):
        self.target, self.source_app, self.source_id, self.page_size = target, source_app, source_id, page_size
        self.failed: list[str] = []

    def run(self, label: str, *, full: bool):
        before = loadavg()
        peak_rss_mb(reset=True)
        anon = AnonPeak()
        anon.start()
        started = time.perf_counter()
        report = harvest_source(self.target, self.source_id, full=full, settings=HttpSettings(min_interval=0),
                                page_size=self.page_size)
        seconds = time.perf_counter() - started
        own = anon.stop()
        print(f"{label}: {report.resources} resources in {seconds:.1f} s = {report.resources / seconds:.0f}/s; "
              f"{report.pages} pages; {'full' if report.full else 'incremental'}; "
              f"{dict(sorted(report.counts.items())) or 'no change'}; {len(report.errors)} problems; "
              f"peak RSS {peak_rss_mb():.0f} MB (own memory, RssAnon, at most {own:.0f} MB); "
              f"load average {before} -> {loadavg()}", flush=True)
        for problem in report.errors[:5]:
            print(f"  problem: {problem}")
        return report

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        print(f"  {'PASS' if ok else 'FAIL'}: {name}" + (f" ({detail})" if detail else ""), flush=True)
        if not ok:
            self.failed.append(name)

    def check_participation(self) -> None:
        expected, found = expected_participation(self.source_app), participation(self.target)
        wrong = {npi for npi in set(expected) | set(found) if expected.get(npi) != found.get(npi)}
        self.check("per NPI, exactly the source's participation for the relevant specialties", not wrong,
                   f"{len(expected)} NPIs, {sum(map(len, expected.values()))} participations in the source; "
                   f"{len(wrong)} NPIs differ")

    def first(self) -> None:
        report = self.run("first run (empty directory)", full=True)
        self.check("complete, no problem reported", report.complete and not report.errors)
        self.check_participation()
        with Session(get_engine(self.target)) as s:
            npis = set(s.execute(select(Listing.npi)).scalars())
        published = set(expected_participation(self.source_app)) | expected_organizations(self.source_app)
        self.check("the listings are exactly the NPIs the source publishes for our specialties", npis == published,
                   f"{len(npis)} listings, {len(published)} expected")
        self.check("the networks carry the source's plan types", networks(self.target) == networks(self.source_app),
                   f"{len(networks(self.target))} networks")

    def second(self) -> None:
        before = writes(self.target)
        report = self.run("second run (no change on the source)", full=True)
        after = writes(self.target)
        self.check("writes nothing", report.complete and after == before,
                   f"audit entries {before[0]} -> {after[0]}, index changes {before[1]} -> {after[1]}")

    def incremental(self, changes: int) -> None:
        changed = change_roles(self.source_app, changes)
        print(f"{len(changed)} practitioners' roles changed on the source", flush=True)
        with Session(get_engine(self.target)) as s:
            first_audit = s.execute(select(func.max(AuditEntry.id))).scalar_one()
        report = self.run(f"incremental run (after {changes} changes)", full=False)
        self.check("incremental, complete, no problem", not report.full and report.complete and not report.errors)
        self.check_participation()
        with Session(get_engine(self.target)) as s:
            touched = set(s.execute(select(Listing.npi).join(AuditEntry, AuditEntry.listing_id == Listing.id)
                                    .where(AuditEntry.id > first_audit)).scalars())
            actors = set(s.execute(select(AuditEntry.actor).where(AuditEntry.id > first_audit)).scalars())
        self.check(f"applies exactly those {changes}", touched == changed and actors == {"harvest:bench"},
                   f"{len(touched)} listings audited, {len(touched & changed)} of them changed on the source")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=5000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--folder", default="/tmp/harvest-bench")
    parser.add_argument("--target", choices=("whoosh", "postgres"), default="whoosh")
    parser.add_argument("--reuse-source", action="store_true", help="Serve the source a previous run built for N.")
    parser.add_argument("--throughput-only", action="store_true", help="The first two runs, without the checks.")
    parser.add_argument("--unfiltered-source", action="store_true",
                        help="The source answers a specialty= naming every code it carries as if it were absent.")
    args = parser.parse_args()
    folder = Path(args.folder)
    shutil.rmtree(folder / "target", ignore_errors=True)
    (folder / "target").mkdir(parents=True)

    print(f"source: {args.listings} listings; load average {loadavg()}", flush=True)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=_serve_source, args=(str(folder / "source"), args.listings, args.reuse_source,
                                                        args.unfiltered_source, theirs), daemon=True)
    child.start()
    pg = None
    try:
        port, built = ours.recv()
        print(f"source served on port {port}" + (f", built in {built:.0f} s" if built else " (reused)")
              + f"; load average {loadavg()}", flush=True)
        source_app = create_app({"DATABASE_URL": f"sqlite:///{folder / 'source' / 'test.sqlite3'}",
                                 "INDEX_DIR": str(folder / "source" / "index"), "SECRET_KEY": "bench",
                                 "SEARCH_BACKEND": "whoosh"})
        pg = PostgresServer() if args.target == "postgres" else None
        target = make_app(args.target, folder / "target", pg)
        with target.app_context():
            if args.unfiltered_source:
                with Session(get_engine(target)) as s:
                    carried = sorted(s.execute(select(Specialty.code)).scalars())
                print("the source leaves out a specialty= naming every code it carries; checking it answers the same:")
                if not same_answers(f"http://127.0.0.1:{port}/fhir", carried):
                    print("FAILED: the source publishes roles or affiliations without any of our specialties")
                    return 1
            with unit_of_work("bench") as uow:
                source_id = add_source(uow.session, name="bench", base_url=f"http://127.0.0.1:{port}/fhir",
                                       actor="bench").id
            bench = Bench(target, source_app, source_id, args.page_size)
            if args.throughput_only:
                bench.run("first run (empty directory)", full=True)
                bench.run("second run (no change on the source)", full=True)
            else:
                bench.first()
                bench.second()
                bench.incremental(args.changes)
        close_app(target)
    finally:
        child.terminate()
        child.join(timeout=30)
        if pg is not None:
            pg.close()
    if bench.failed:
        print(f"FAILED: {', '.join(bench.failed)}")
        return 1
    print("every check passed" if not args.throughput_only else "done (no checks: --throughput-only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
