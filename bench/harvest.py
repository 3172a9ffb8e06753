"""Harvest throughput: a source directory of N demo listings served on loopback (our own /fhir/), harvested
into an empty directory. Reports resources per second and the harvesting process's peak RSS.

    .venv/bin/python -m bench.harvest --listings 5000 [--page-size 100] [--folder /tmp/harvest-bench]

Both directories are SQLite files with Whoosh indexes under --folder (made afresh). The source is
served in this process too, so peak RSS includes it; the figure is an upper bound for the harvest.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import time
from pathlib import Path

from directory.db import get_engine
from directory.demo import generate
from directory.harvest.client import HttpSettings
from directory.harvest.run import harvest_source
from directory.search import rebuild_index
from directory.services.harvest_sources import add_source
from directory.services.unit_of_work import unit_of_work
from tests.backends import make_app
from tests.loopback import serving


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=5000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--folder", default="/tmp/harvest-bench")
    args = parser.parse_args()
    folder = Path(args.folder)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "source").mkdir(parents=True)
    (folder / "target").mkdir()
    source = make_app("whoosh", folder / "source")
    with source.app_context():
        generate(get_engine(), count=args.listings, seed=11)
        rebuild_index(source)
    target = make_app("whoosh", folder / "target")
    with serving(source) as base, target.app_context():
        with unit_of_work("bench") as uow:
            source_id = add_source(uow.session, name="bench", base_url=f"{base}/fhir", actor="bench").id
        for label, full in (("first (empty directory)", True), ("second (no change)", True)):
            started = time.perf_counter()
            report = harvest_source(target, source_id, full=full, settings=HttpSettings(min_interval=0),
                                    page_size=args.page_size)
            seconds = time.perf_counter() - started
            print(f"{label}: {report.resources} resources in {seconds:.1f} s = {report.resources / seconds:.0f}/s; "
                  f"{report.pages} pages; {report.counts}; {len(report.errors)} problems")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS (source + harvest, one process): {peak_mb:.0f} MB at {args.listings} listings")


if __name__ == "__main__":
    main()
