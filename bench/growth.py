"""How each benchmark figure grows with the data: a markdown table of the ratio large / small.

    python -m bench.run --count 100000 && python -m bench.run --count 1000000
    python -m bench.growth                                 # bench/results/100000.json vs 1000000.json
    python -m bench.growth --small 100000 --large 1000000  # any two result files of bench.run

For every backend in both files: data generation time, index build time, rate and size, database
size, start time, peak RSS, and p50/p95 (and mean result count) of each query kind of the mix. With
ten times the listings, a ratio near 10 is linear growth, near 1 is flat; a falling build rate is
below 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

# (where, key, label): where is "build", "" (the serving process) or "query" (each kind of the mix).
FIGURES = (
    ("build", "generate_s", "data generation s"),
    ("build", "index_build_s", "index build s"),
    ("build", "index_rate_per_s", "index build rate, listings/s"),
    ("build", "index_size_mb", "index size MB"),
    ("build", "store_mb", "database MB"),
    ("", "start_s", "start s"),
    ("", "rss_mb", "peak RSS MB (serving process)"),
)
QUERY_FIGURES = (("p50_ms", "p50 ms"), ("p95_ms", "p95 ms"), ("mean_results", "mean results"))


def load(count: int) -> dict:
    """One result file of bench.run, as {"count", "backends": {name: figures}} (older files, with
    whoosh and naive at the top level, are read too)."""
    report = json.loads((RESULTS / f"{count}.json").read_text())
    if "backends" in report:
        return report
    mix = [k for k in report["whoosh"] if isinstance(report["whoosh"][k], dict)]
    whoosh = {"build": report["build"], "start_s": report["whoosh"]["start_s"],
              "rss_mb": report["whoosh"]["rss_mb"], "queries": {k: report["whoosh"][k] for k in mix}}
    naive = {"build": {}, "queries": report.get("naive", {})}
    return {"count": report["count"], "backends": {"whoosh": whoosh, "naive": naive}}


def short(count: int) -> str:
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if count >= size and count % size == 0:
            return f"{count // size}{suffix}"
    return f"{count:,}"


def value(figures: dict, where: str, key: str, kind: str | None = None):
    if where == "query":
        return figures.get("queries", {}).get(kind, {}).get(key)
    return (figures.get("build", {}) if where == "build" else figures).get(key)


def fmt(number) -> str:
    if number is None:
        return "–"
    return f"{number:,}" if isinstance(number, int) else f"{number:g}"


def ratio(small, large) -> str:
    if small is None or large is None or not small:
        return "–"
    return f"×{large / small:.1f}"


def table(small: dict, large: dict) -> list[str]:
    names = [n for n in small["backends"] if n in large["backends"]]
    a, b = short(small["count"]), short(large["count"])
    kinds = list(dict.fromkeys(k for n in names for k in small["backends"][n].get("queries", {})))
    rows = [(where, key, label, None) for where, key, label in FIGURES]
    rows += [("query", key, f"{kind} {label}", kind) for kind in kinds for key, label in QUERY_FIGURES]
    lines = [
        "| figure | " + " | ".join(f"{n} {a} | {n} {b} | {n} growth" for n in names) + " |",
        "|---|" + "---:|---:|---:|" * len(names),
    ]
    for where, key, label, kind in rows:
        cells = []
        for name in names:
            x = value(small["backends"][name], where, key, kind)
            y = value(large["backends"][name], where, key, kind)
            cells.append(f"{fmt(x)} | {fmt(y)} | {ratio(x, y)}")
        if any(c != "– | – | –" for c in cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100_000, help="listings of the first result file")
    parser.add_argument("--large", type=int, default=1_000_000, help="listings of the second result file")
    args = parser.parse_args()
    try:
        small, large = load(args.small), load(args.large)
    except FileNotFoundError as error:
        sys.exit(f"{error.filename}: run `python -m bench.run --count N` first")
    print(f"Growth from {small['count']:,} to {large['count']:,} listings "
          f"(×{large['count'] / small['count']:g} the data)\n")
    print("\n".join(table(small, large)))


if __name__ == "__main__":
    main()
