"""One table of every figure the benchmarks wrote (bench/results/*.json): operation, median
(min-max), ratio to raw sqlite3 where there is a raw equivalent, budget and verdict. Printed
as Markdown and written to bench/results/summary.json.

    python -m bench.summary --large 1000000 --small 10000
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
PAGE_BUDGET_MS = 1000.0
MEMORY_GROWTH_MB = 50.0
OPERATION_BUDGETS_MS = {"next call in a review session (judge, then load)": 300.0,
                        "1,000-case run, deterministic checks": 5000.0}


@dataclass
class Row:
    operation: str
    measured: str
    ratio: str
    budget: str
    verdict: str


def _ms(timing: dict[str, float]) -> str:
    return f"{timing['median_ms']:,.1f} ms ({timing['min_ms']:,.1f}-{timing['max_ms']:,.1f})"


def _verdict(met: bool) -> str:
    return "ok" if met else "MISS"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def store_rows(report: dict[str, Any]) -> list[Row]:
    calls = report["environment"]["calls"]
    return [Row(f"store ({calls:,} calls): {r['operation']}", r["evalboard"],
                "-" if r["ratio"] is None else f"{r['ratio']:.2f}x", r["target"], r["verdict"])
            for r in report["results"]]


def check_rows(report: dict[str, Any]) -> list[Row]:
    rate, target = report["mixed_deterministic"], report["target"]
    return [Row("checks: deterministic mix, one core", f"{rate:,.0f} evaluations/s", "-",
                f">= {target:,} /s", _verdict(rate >= target))]


def chart_rows(report: dict[str, Any]) -> list[Row]:
    calls = report["environment"]["calls"]
    return [Row(f"chart ({calls:,} calls): {r['chart']}",
                f"{_ms(r)}, cpu {r['cpu_median_ms']:,.1f} ms", "-",
                f"< {r['target_ms']:g} ms (cpu)", r["verdict"]) for r in report["results"]]


def page_rows(report: dict[str, Any], label: str) -> list[Row]:
    rows = [Row(f"page script ({label} calls): {page}", _ms(figures), "-",
                f"< {PAGE_BUDGET_MS:g} ms",
                _verdict(figures["median_ms"] < PAGE_BUDGET_MS and not figures["errors"]))
            for page, figures in report["pages"].items()]
    for name, timing in report["operations"].items():
        budget = OPERATION_BUDGETS_MS.get(name)
        rows.append(Row(f"{name} ({label} calls)", _ms(timing), "-",
                        "-" if budget is None else f"< {budget:g} ms",
                        "info" if budget is None else _verdict(timing["median_ms"] < budget)))
    return rows


def memory_rows(small: dict[str, Any], large: dict[str, Any], small_label: str,
                large_label: str) -> list[Row]:
    rows = []
    for page, figures in large["pages"].items():
        before = small["pages"].get(page, {}).get("peak_mb")
        if before is None:
            continue
        growth = figures["peak_mb"] - before
        rows.append(Row(f"page memory {small_label} -> {large_label} calls: {page}",
                        f"{before:.1f} -> {figures['peak_mb']:.1f} MB ({growth:+.1f})", "-",
                        f"growth <= {MEMORY_GROWTH_MB:g} MB",
                        _verdict(growth <= MEMORY_GROWTH_MB)))
    return rows


def summary(large: str, small: str) -> list[Row]:
    rows: list[Row] = []
    if report := _load("store.json"):
        rows += store_rows(report)
    if report := _load("checks.json"):
        rows += check_rows(report)
    if report := _load("metrics.json"):
        rows += chart_rows(report)
    small_pages, large_pages = _load(f"pages-{small}.json"), _load(f"pages-{large}.json")
    for label, report in ((small, small_pages), (large, large_pages)):
        if report:
            rows += page_rows(report, f"{int(label):,}" if label.isdigit() else label)
    if small_pages and large_pages:
        rows += memory_rows(small_pages, large_pages, f"{int(small):,}", f"{int(large):,}")
    if report := _load("browser.json"):
        from bench.bench_browser import rows as browser_rows

        rows += [Row(figure, measured, "-", budget, verdict)
                 for figure, measured, budget, verdict in browser_rows(report)]
    return rows


def markdown(rows: list[Row]) -> str:
    header = Row("operation", "median (min-max)", "ratio to raw", "budget", "verdict")
    table = [list(asdict(r).values()) for r in [header, *rows]]
    widths = [max(len(line[i]) for line in table) for i in range(5)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
             for line in table]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--large", default="1000000", help="label of the large store's pages")
    parser.add_argument("--small", default="10000", help="label of the small store's pages")
    args = parser.parse_args()
    rows = summary(args.large, args.small)
    print(markdown(rows))
    misses = [r.operation for r in rows if r.verdict == "MISS"]
    print(f"\n{len(rows)} figures, {len(misses)} over budget"
          + (":\n  " + "\n  ".join(misses) if misses else ""))
    (RESULTS / "summary.json").write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    print(f"wrote {RESULTS / 'summary.json'}")


if __name__ == "__main__":
    main()
