"""Deterministic check throughput on one core: `python -m bench.bench_checks [--n N]`.

Target (issue 4): >= 5,000 check evaluations per second on one core. Prints the figure per
check type and for a mixed workload, and writes bench/results/checks.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from evalboard.checks import CheckContext, CheckSpec, run_check

OUTPUTS = [
    '{"name": "Ada Lovelace", "email": "ada@example.com", "order_id": "A-1042"}',
    "Julius Caesar (100-44 BC) was a Roman general and statesman.",
    "I'm sorry, but I can't help with that request.",
    "東京は日本の首都です。人口は約1400万人です。",
    "Go to **Settings → Data → Export**, choose *All files* and click **Start export**.",
]
REFERENCE = "Julius Caesar was a Roman general and statesman who lived in Italy."
SPECS = {
    "contains": CheckSpec("contains", {"value": "Roman"}),
    "icontains_any": CheckSpec("icontains_any", {"values": ["caesar", "italian", "rome"]}),
    "regex": CheckSpec("regex", {"pattern": r"\b\d{2,3}(-\d{2})? BC\b"}),
    "is_json": CheckSpec("is_json"),
    "equals": CheckSpec("equals", {"value": "Paris"}),
    "word_count": CheckSpec("word_count", {"min": 3, "max": 200}),
    "refusal": CheckSpec("refusal", negate=True),
    "levenshtein": CheckSpec("levenshtein", {"value": "Julius Caesar was Roman"}),
    "rouge": CheckSpec("rouge", {"variant": "rougeL"}),
    "bleu": CheckSpec("bleu"),
}
DETERMINISTIC_MIX = ("contains", "icontains_any", "regex", "is_json", "equals", "word_count",
                     "refusal")
TARGET_PER_SECOND = 5_000


def evaluations_per_second(specs: list[CheckSpec], n: int) -> float:
    context = CheckContext(references=(REFERENCE,))
    for spec in specs:  # warm-up: loads the catalogue and lazily imported libraries
        run_check(spec, OUTPUTS[0], context)
    started = time.process_time()
    for i in range(n):
        run_check(specs[i % len(specs)], OUTPUTS[i % len(OUTPUTS)], context)
    return n / max(time.process_time() - started, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000, help="evaluations per measurement")
    args = parser.parse_args()
    rows = {name: evaluations_per_second([spec], args.n // 4) for name, spec in SPECS.items()}
    mixed = evaluations_per_second([SPECS[k] for k in DETERMINISTIC_MIX], args.n)
    print(f"{'check':<16}{'evaluations/s (CPU time, one core)':>36}")
    for name, rate in rows.items():
        print(f"{name:<16}{rate:>36,.0f}")
    verdict = "ok" if mixed >= TARGET_PER_SECOND else "MISSED"
    print(f"{'mixed (determ.)':<16}{mixed:>36,.0f}   target >= {TARGET_PER_SECOND:,}: {verdict}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "checks.json").write_text(json.dumps(
        {"per_check": rows, "mixed_deterministic": mixed, "target": TARGET_PER_SECOND}, indent=2))


if __name__ == "__main__":
    main()
