"""Server-side render time of the public results page for metro searches.

    python -m bench.pages --dir bench/data/100000 [--iterations 200]

Uses a database and index built by `python -m bench.run` (or any INSTANCE folder with
`--dir`), renders `/?zip=<metro>&radius=25` through Flask's test client (no network, no browser),
and reports p50/p95 in milliseconds, with the JSON API's time for the same searches beside it.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import metro_centres, percentile  # noqa: E402
from bench.stores import settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=ROOT / "bench" / "data" / "100000")
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()

    from directory import create_app

    app = create_app(settings(args.dir))
    client = app.test_client()
    rng = random.Random(11)
    zips = [z for _, _, z in metro_centres()]
    client.get(f"/?zip={zips[0]}&radius=25")  # open the searcher outside the timings
    figures = {}
    for label, template in (("results page", "/?zip={}&radius=25"),
                            ("results page, network + accepting", "/?zip={}&radius=25&network=1&accepting=true"),
                            ("JSON API", "/api/v1/search?zip={}&radius=25")):
        times = []
        for _ in range(args.iterations):
            url = template.format(rng.choice(zips))
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        figures[label] = (percentile(times, 50), percentile(times, 95))
    print(f"{args.dir}: {args.iterations} metro searches each")
    print("| request | p50 ms | p95 ms |\n|---|---|---|")
    for label, (p50, p95) in figures.items():
        print(f"| {label} | {p50:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
