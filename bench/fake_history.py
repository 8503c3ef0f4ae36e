"""What a team's store holds besides calls, bulk-written into a benchmark store: review
judgements with labels, a regression suite of test cases, and a finished run per model version.
Then what evalboard's writes keep current (the bulk load bypassed them: call rollups, current
judgements, run totals) and the planner statistics a migrated store gets."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterable, Sequence
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine

from evalboard.review.annotations import rebuild_answer_flags
from evalboard.runs.totals import record_run_totals
from evalboard.store import open_store
from evalboard.store.rollups import rebuild_rollups

CASES = 10_000
ANNOTATIONS = 50_000
REVIEWERS = ("ana", "ben", "chloe")
LABELS = ["hallucination", "wrong format", "biased or insulting", "garbled or incoherent",
          "edge case mishandled", None]
CHECK_TYPES = ("rouge", "bleu", "regex")
HISTORY_TABLES = ("suites", "test_cases", "case_versions", "eval_runs", "case_results",
                  "check_results", "annotations")  # written with explicit ids


class Writer(Protocol):
    """What the loaders need of a DB-API connection: sqlite3's, or psycopg's through
    PsycopgWriter (SQL written with `?` placeholders)."""

    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any: ...


class PsycopgWriter:
    """A psycopg connection taking the loaders' `?` placeholders."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), rows)


def stamp(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="microseconds")


def load_suite(conn: Writer, cases: int, start: datetime) -> None:
    """One suite ('regression') of `cases` cases, each at version 1."""
    now = stamp(start)
    conn.execute("INSERT INTO suites (id, name, description, created_at) VALUES (1, 'regression',"
                 " '', ?)", (now,))
    conn.executemany(
        "INSERT INTO test_cases (id, suite_id, name, active, current_version, mode, label, "
        "severity, created_at) VALUES (?, 1, ?, TRUE, 1, 'failure', ?, 'medium', ?)",
        [(k, f"case {k}", LABELS[k % len(LABELS)], now) for k in range(1, cases + 1)])
    conn.executemany(
        "INSERT INTO case_versions (id, case_id, version, name, input_text, mode, label, checks, "
        "\"references\", expected_entities, tags, severity, created_at) VALUES (?, ?, 1, ?, ?, "
        "'failure', ?, '[]', '[]', '[]', '[]', 'medium', ?)",
        [(k, k, f"case {k}", f"question {k}", LABELS[k % len(LABELS)], now)
         for k in range(1, cases + 1)])


def load_runs(conn: Writer, rng: random.Random, version_ids: list[int],
              cases: int, start: datetime, days: int) -> None:
    """A finished run of the whole suite per version (three checks per case), started as the
    versions roll out, each better than the one before."""
    result_id = check_id = 0
    for k, version_id in enumerate(version_ids):
        quality = 0.6 + 0.035 * k
        started = stamp(start + timedelta(days=days * k / len(version_ids)))
        conn.execute("INSERT INTO eval_runs (id, suite_id, model_version_id, generator, "
                     "generator_config, selection, status, total_cases, started_at, "
                     "finished_at) VALUES (?, 1, ?, 'replay', '{}', '{}', 'finished', ?, ?, ?)",
                     (k + 1, version_id, cases, started, started))
        results, checks = [], []
        for case_id in range(1, cases + 1):
            result_id += 1
            status = "pass" if rng.random() < quality else rng.choice(("fail", "error"))
            results.append((result_id, k + 1, case_id, case_id, status, status == "pass",
                            float(status == "pass"), started))
            for position, kind in enumerate(CHECK_TYPES):
                check_id += 1
                score = min(1.0, max(0.0, rng.gauss(quality, 0.2)))
                checks.append((check_id, result_id, position, kind, score >= 0.5, score))
        conn.executemany("INSERT INTO case_results (id, run_id, case_id, case_version_id, "
                         "status, passed, score, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         results)
        conn.executemany("INSERT INTO check_results (id, case_result_id, position, check_type,"
                         " params, negate, weight, passed, score, reason) VALUES (?, ?, ?, ?, "
                         "'{}', FALSE, 1.0, ?, ?, '')", checks)


def load_annotations(conn: Writer, rng: random.Random, calls: int,
                     annotations: int, start: datetime) -> None:
    """`annotations` judgements by three reviewers, a fifth with a label, ~2% retracted."""
    label_ids = [row[0] for row in conn.execute("SELECT id FROM labels")]
    rows, labelled, retracts = [], [], []
    for annotation_id in range(1, annotations + 1):
        call_id = rng.randint(1, calls)
        verdict = rng.choices(("pass", "fail", "unsure"), (0.7, 0.25, 0.05))[0]
        rows.append((annotation_id, call_id, rng.choice(REVIEWERS), verdict,
                     stamp(start + timedelta(minutes=annotation_id))))
        if rng.random() < 0.2:
            labelled.append((annotation_id, rng.choice(label_ids)))
        if rng.random() < 0.02:
            retracts.append((annotations + len(retracts) + 1, call_id, rows[-1][2],
                             annotation_id, rows[-1][4]))
    conn.executemany("INSERT INTO annotations (id, call_id, reviewer, action, verdict, "
                     "created_at) VALUES (?, ?, ?, 'judge', ?, ?)", rows)
    conn.executemany("INSERT INTO annotation_labels (annotation_id, label_id) VALUES (?, ?)",
                     labelled)
    conn.executemany("INSERT INTO annotations (id, call_id, reviewer, action, retracts_id, "
                     "created_at) VALUES (?, ?, ?, 'retract', ?, ?)", retracts)


def write_history(conn: Writer, rng: random.Random, *, start: datetime, days: int, cases: int,
                  annotations: int) -> tuple[int, int]:
    """The suite, its runs and the annotations in one open transaction; (annotations, runs)."""
    calls = conn.execute("SELECT max(id) FROM calls").fetchone()[0] or 0
    version_ids = [row[0] for row in conn.execute(
        "SELECT id FROM model_versions ORDER BY created_at, id")]
    load_suite(conn, cases, start)
    load_runs(conn, rng, version_ids, cases, start, days)
    annotations = min(annotations, calls)
    if annotations:
        load_annotations(conn, rng, calls, annotations, start)
    return annotations, len(version_ids)


def keep_history_current(engine: Engine, runs: int) -> None:
    """What evalboard's writes keep current and the bulk load bypassed: the call rollups,
    the current and final judgements, the run totals."""
    with engine.begin() as conn:
        rebuild_rollups(conn)
        rebuild_answer_flags(conn)
        for run_id in range(1, runs + 1):
            record_run_totals(conn, run_id)


def load_history(path: Path, *, start: datetime, days: int, seed: int,
                 cases: int = CASES, annotations: int = ANNOTATIONS) -> None:
    """Annotations, the suite and its runs into a store whose calls are written; then the
    rollups and ANALYZE. Every id is fixed, so the store must not hold any of these yet."""
    started = time.perf_counter()
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        annotations, runs = write_history(conn, random.Random(seed), start=start, days=days,
                                          cases=cases, annotations=annotations)
        conn.execute("COMMIT")
    engine = open_store(f"sqlite:///{path}")
    keep_history_current(engine, runs)
    engine.dispose()
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA analysis_limit=400")  # what store.migrate gives a store
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"added {annotations:,} annotations, {cases:,} cases, {runs} runs and the "
          f"rollups in {time.perf_counter() - started:.0f} s", flush=True)
