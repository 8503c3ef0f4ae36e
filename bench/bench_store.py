"""Benchmark the store against raw sqlite3 on the same file and schema.

Run from the repository root:

    python -m bench.bench_store [--calls N] [--db PATH] [--reuse]

It builds (or reuses) a store of N calls, then measures keyset pages, full-text search
pages, counts per model version, batched logging and importing, each next to raw sqlite3
doing the equivalent work on the same file and schema. It prints the EXPLAIN QUERY PLAN of
every read query and the tables,
and writes everything to bench/results/store.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Engine, event, update

import evalboard
from bench.fake_calls import (
    COMMON_SHARE,
    COMMON_WORD,
    DAYS,
    RARE_SHARE,
    RARE_WORD,
    SEED,
    VERSIONS,
    CallFactory,
    FakeCall,
    period_start,
    rollout,
)
from bench.fake_history import load_history
from evalboard import clock
from evalboard.exchange.importing import BATCH_SIZE as IMPORT_BATCH_SIZE
from evalboard.exchange.importing import import_file
from evalboard.iterutil import chunked
from evalboard.store import open_store
from evalboard.store.calls_counts import MatchCounts, browse_counts
from evalboard.store.calls_pages import Cursor, list_calls, page_query
from evalboard.store.calls_query import CallFilter, filter_conditions
from evalboard.store.ids import reserve_ids
from evalboard.store.models import ModelVersion
from evalboard.store.search import escape_fts
from evalboard.store.writes import ensure_model_versions

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_DB = BENCH_DIR / "bench.db"
RESULTS_FILE = BENCH_DIR / "results" / "store.json"

DEFAULT_CALLS = 1_000_000
WRITE_CALLS = 100_000
LOG_BATCH_SIZE = 500  # evalboard.connect()'s default batch size
LOG_ROUNDS = 2
BUILD_CHUNK = 20_000
REPEAT = 20
PAGE_SIZE = 50
DEEP_PAGE = 1000


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Timing:
    median_ms: float
    min_ms: float
    max_ms: float

    @staticmethod
    def of(samples: list[float]) -> Timing:
        return Timing(statistics.median(samples), min(samples), max(samples))

    def __str__(self) -> str:
        return f"{self.median_ms:.2f} ms ({self.min_ms:.2f}-{self.max_ms:.2f})"


def timeit(*fns: Callable[[], object], repeat: int = REPEAT, warmup: int = 1) -> list[Timing]:
    """Median, min and max wall time (ms) of each function after `warmup` unmeasured runs.

    Runs are interleaved (a, b, a, b, ...), so background noise hits every function alike.
    """
    for fn in fns:
        for _ in range(warmup):
            fn()
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, out in zip(fns, samples, strict=True):
            started = time.perf_counter()
            fn()
            out.append((time.perf_counter() - started) * 1000)
    return [Timing.of(s) for s in samples]


def rows_per_second(fn: Callable[[], int]) -> float:
    """Run `fn` once; it returns how many rows it wrote."""
    started = time.perf_counter()
    rows = fn()
    return rows / (time.perf_counter() - started)


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass(frozen=True)
class Target:
    """A goal for one row of the table; `kind` says how to check it."""

    kind: str  # "max_ratio", "min_ratio", "max_ms" or "info"
    value: float = 0.0
    also_max_ms: float | None = None  # a ratio target that must also stay under this time

    def describe(self) -> str:
        text = {
            "max_ratio": f"<= {self.value:g}x raw",
            "min_ratio": f">= {self.value:g}x raw",
            "max_ms": f"< {self.value:g} ms",
            "info": "-",
        }[self.kind]
        return text if self.also_max_ms is None else f"{text}, < {self.also_max_ms:g} ms"

    def verdict(self, measured_ms: float | None, ratio: float | None) -> str:
        if self.kind == "info":
            return "info"
        if self.kind == "max_ms":
            met = measured_ms is not None and measured_ms < self.value
        elif self.kind == "max_ratio":
            met = ratio is not None and ratio <= self.value
        else:
            met = ratio is not None and ratio >= self.value
        if self.also_max_ms is not None:
            met = met and measured_ms is not None and measured_ms < self.also_max_ms
        return "ok" if met else "MISS"


@dataclass
class Result:
    """One table row; `numbers` keeps the raw figures for the JSON file."""

    operation: str
    evalboard: str
    raw: str
    ratio: float | None
    target: str
    verdict: str
    numbers: dict[str, Any] = field(default_factory=dict)


def latency_result(name: str, ours: Timing, raw: Timing, target: Target) -> Result:
    ratio = ours.median_ms / raw.median_ms
    return Result(
        name,
        str(ours),
        str(raw),
        ratio,
        target.describe(),
        target.verdict(ours.median_ms, ratio),
        {"evalboard": asdict(ours), "raw": asdict(raw)},
    )


def throughput_result(name: str, ours: float, raw: float, target: Target) -> Result:
    ratio = ours / raw
    return Result(
        name,
        f"{ours:,.0f} rows/s",
        f"{raw:,.0f} rows/s",
        ratio,
        target.describe(),
        target.verdict(None, ratio),
        {"evalboard_rows_per_s": ours, "raw_rows_per_s": raw},
    )




# --------------------------------------------------------------------------- SQL helpers


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def store_url(store: str) -> str:
    """A database URL as given, or a SQLite store's path as its URL."""
    return store if "://" in store else sqlite_url(Path(store).resolve())


def raw_connect(path: Path) -> sqlite3.Connection:
    """A raw connection tuned like the store's own (WAL, NORMAL sync, autocommit)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def sibling(path: Path, suffix: str) -> Path:
    """A work file next to the store, named after it (bench/bench.db* is git-ignored)."""
    return path.with_name(path.name + suffix)


def remove_store(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


Statement = tuple[str, Sequence[Any]]


@contextmanager
def captured_sql(engine: Engine) -> Iterator[list[Statement]]:
    """Every (statement, parameters) the engine sends to the driver inside the block: through
    SQLAlchemy's events, and, for statements run on the driver directly (evalboard's prepared
    Browse pages), from SQLite's trace of the connections opened in the block (with the
    values written into the SQL)."""
    seen: list[Statement] = []

    def remember(*args: Any) -> None:  # (conn, cursor, statement, parameters, context, many)
        seen.append((args[2], args[3]))

    def trace(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.set_trace_callback(lambda sql: seen.append((sql, ())))

    engine.dispose()
    event.listen(engine, "before_cursor_execute", remember)
    event.listen(engine, "connect", trace)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", remember)
        event.remove(engine, "connect", trace)
        engine.dispose()  # the traced connections go


READ_MARKERS = ("FROM calls", "FROM call_days")


def reading_calls(statements: list[Statement], markers: Sequence[str] = READ_MARKERS
                  ) -> Statement:
    """The first SELECT that reads `calls` or their daily rollups (or has another marker)."""
    return next(s for s in statements if s[0].lstrip().upper().startswith("SELECT")
                and any(marker in s[0] for marker in markers))


def query_plan(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[str]:
    """EXPLAIN QUERY PLAN as indented lines."""
    rows = conn.execute("EXPLAIN QUERY PLAN " + sql, tuple(params)).fetchall()
    depth: dict[int, int] = {0: -1}
    lines = []
    for node, parent, _unused, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + detail)
    return lines


REPEATED_PLACEHOLDERS = re.compile(r"((?:\(\?, \?\)|\?), ){3,}")


def compact_sql(sql: str) -> str:
    """One line, with long runs of placeholders shortened to `?, ..., `."""
    return REPEATED_PLACEHOLDERS.sub(r"\1..., ", " ".join(sql.split()))


def compact_params(params: Sequence[Any], shown: int = 8) -> list[str]:
    texts = [str(p) for p in params[:shown]]
    return texts + [f"... ({len(params)} in all)"] if len(params) > shown else texts


def plan_record(conn: sqlite3.Connection, ours: Statement, raw: Statement) -> dict[str, Any]:
    """Both statements with their parameters and query plans, for the report."""
    record: dict[str, Any] = {}
    for side, (sql, params) in (("evalboard", ours), ("raw", raw)):
        record[f"{side}_sql"] = compact_sql(sql)
        record[f"{side}_params"] = compact_params(params)
        record[f"{side}_plan"] = query_plan(conn, sql, params)
    return record


# --------------------------------------------------------------------------- building

INSERT_CALL_SQL = (  # the columns of FakeCall.db_row
    "INSERT INTO calls (id, created_at, model_version_id, source, input_text, input_messages, "
    "output, latency_ms, prompt_tokens, completion_tokens, total_tokens, error, metadata, "
    "session_id, external_id, input_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def insert_versions(engine: Engine, start: datetime) -> dict[str, int]:
    """The versions, created as they roll out (so charts order them v1, v2, ..., v10)."""
    with engine.begin() as conn:
        ids = ensure_model_versions(conn, VERSIONS)
        for k, name in enumerate(VERSIONS):
            conn.execute(update(ModelVersion).where(ModelVersion.id == ids[name]).values(
                created_at=start + timedelta(days=DAYS) * rollout(k)))
        return ids


def insert_chunk(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> int:
    """One write transaction of executemany (the FTS trigger indexes every row)."""
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(INSERT_CALL_SQL, rows)
    conn.execute("COMMIT")
    return len(rows)


def insert_calls_raw(
    conn: sqlite3.Connection, rows: Iterable[tuple[Any, ...]], chunk: int, total: int = 0
) -> int:
    """Insert rows in transactions of `chunk` rows; print progress when `total` is given."""
    written = 0
    for batch in chunked(rows, chunk):
        written += insert_chunk(conn, batch)
        if total and written % (chunk * 5) == 0:
            print(f"  built {written:,}/{total:,} calls", flush=True)
    return written


def build_store(path: Path, count: int) -> None:
    """Migrate through open_store, reserve the ids (so the counter passes them), bulk-fill raw;
    then annotations, 10k cases, a run per version and the rollups (bench/fake_history.py)."""
    remove_store(path)
    start = period_start()
    engine = open_store(sqlite_url(path))
    versions = insert_versions(engine, start)
    ids = reserve_ids(engine, count)  # the id counter now sits past every bulk-written id
    started = time.perf_counter()
    calls = CallFactory().calls(count, start, timedelta(days=DAYS))
    with closing(raw_connect(path)) as conn:
        conn.execute("PRAGMA cache_size=-1000000")
        rows = (call.db_row(i, versions) for i, call in zip(ids, calls, strict=True))
        insert_calls_raw(conn, rows, BUILD_CHUNK, count)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    print(f"built {count:,} calls in {time.perf_counter() - started:.0f} s", flush=True)
    load_history(path, start=start, days=DAYS, seed=SEED)


def scalar(path: Path, sql: str) -> Any:
    with closing(raw_connect(path)) as conn:
        return conn.execute(sql).fetchone()[0]


NEWEST_CALL_SQL = "SELECT max(created_at) FROM calls"


def dataset_end(path: Path) -> datetime:
    return datetime.fromisoformat(scalar(path, NEWEST_CALL_SQL))


# --------------------------------------------------------------------------- reads

PAGE_COLUMNS = (
    "SELECT c.id, c.created_at, mv.name, c.source, CASE WHEN c.input_messages IS NOT NULL "
    "THEN substr(c.input_text, -160) ELSE substr(c.input_text, 1, 160) END, "
    "substr(c.output, 1, 160), c.latency_ms, c.total_tokens, c.error IS NOT NULL, "
    "c.input_messages IS NOT NULL "
    "FROM calls AS c JOIN model_versions AS mv ON mv.id = c.model_version_id "
)
NEWEST_PAGE = " ORDER BY c.created_at DESC, c.id DESC LIMIT ?"
IN_VERSION = "WHERE c.model_version_id = (SELECT id FROM model_versions WHERE name = ?)"
VERSION_PAGE_SQL = PAGE_COLUMNS + IN_VERSION + NEWEST_PAGE
VERSION_PAGE_AFTER_SQL = (
    PAGE_COLUMNS + IN_VERSION + " AND (c.created_at, c.id) < (?, ?)" + NEWEST_PAGE
)
FTS_IDS = "(SELECT rowid FROM calls_fts WHERE calls_fts MATCH ?)"
SEARCH_PAGE_SQL = PAGE_COLUMNS + "WHERE c.id IN " + FTS_IDS + NEWEST_PAGE
FTS_TERMS_SQL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.calls_fts_terms "
    "USING fts5vocab(main, calls_fts, 'row')"
)
WORD_IN_AT_LEAST_SQL = (
    "SELECT term FROM temp.calls_fts_terms WHERE doc >= ? AND term GLOB '[a-z]*' "
    "ORDER BY doc LIMIT 1"
)
MID_SHARE = 0.02
COUNT_SQL = "SELECT model_version_id, count(*) FROM calls GROUP BY model_version_id"
COUNT_RANGE_SQL = (
    "SELECT model_version_id, count(*) FROM calls "
    "WHERE created_at >= ? AND created_at < ? GROUP BY model_version_id"
)
COUNT_SEARCH_SQL = (
    "SELECT model_version_id, count(*) FROM calls WHERE id IN "
    + FTS_IDS
    + " GROUP BY model_version_id"
)
NTH_ROW_OF_VERSION_SQL = (
    "SELECT created_at, id FROM calls WHERE model_version_id = "
    "(SELECT id FROM model_versions WHERE name = ?) "
    "ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET ?"
)
LARGEST_VERSION_SQL = (
    "SELECT mv.name, count(*) AS n FROM calls c JOIN model_versions mv "
    "ON mv.id = c.model_version_id GROUP BY mv.name ORDER BY n DESC LIMIT 1"
)


@dataclass(frozen=True)
class ReadCase:
    """One read query, through evalboard and as hand-written SQL on a raw connection."""

    operation: str
    ours: Callable[[], Any]
    raw_sql: str
    raw_params: tuple[Any, ...]
    target: Target
    key: Callable[[Any], Any]  # what must agree between the two answers

    def raw(self, conn: sqlite3.Connection) -> list[Any]:
        return conn.execute(self.raw_sql, self.raw_params).fetchall()


@dataclass
class ReadBench:
    engine: Engine
    conn: sqlite3.Connection
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)

    def measure(self, case: ReadCase) -> Result:
        with captured_sql(self.engine) as seen:
            ours_answer = case.ours()
        raw_sql = (case.raw_sql, case.raw_params)
        self.plans[case.operation] = plan_record(self.conn, reading_calls(seen), raw_sql)
        ours, raw = timeit(case.ours, lambda: case.raw(self.conn))
        result = latency_result(case.operation, ours, raw, case.target)
        if case.key(ours_answer) != case.key(case.raw(self.conn)):
            result.verdict += " (answers differ!)"
        return result


def page_ids(rows: Sequence[Any]) -> list[int]:
    return [row[0] if isinstance(row, tuple) else row.id for row in rows][:PAGE_SIZE]


def sorted_counts(answer: MatchCounts | Sequence[tuple[Any, int]]) -> list[int]:
    """The counts to compare: per version where Browse split them, else the total."""
    if isinstance(answer, MatchCounts):
        if answer.per_version is None:
            return [answer.total]
        answer = answer.per_version
    return sorted(n for _, n in answer)


def total_count(answer: MatchCounts | Sequence[tuple[Any, int]]) -> list[int]:
    return [answer.total if isinstance(answer, MatchCounts) else sum(n for _, n in answer)]


def stamp(moment: datetime) -> str:
    """A time as the store keeps it in SQLite."""
    return moment.isoformat(sep=" ", timespec="microseconds")


def deep_cursor(conn: sqlite3.Connection, version: str, page: int) -> Cursor:
    """The keyset cursor that opens page `page`: (created_at, id) of its predecessor row."""
    created_at, call_id = conn.execute(
        NTH_ROW_OF_VERSION_SQL, (version, (page - 1) * PAGE_SIZE - 1)
    ).fetchone()
    return Cursor(datetime.fromisoformat(created_at), call_id)


def page_case(engine: Engine, version: str, page: int, after: Cursor | None) -> ReadCase:
    f = CallFilter(model_versions=(version,))
    params: tuple[Any, ...]
    if after is None:
        raw_sql, params = VERSION_PAGE_SQL, (version, PAGE_SIZE + 1)
    else:
        raw_sql = VERSION_PAGE_AFTER_SQL
        params = (version, stamp(after.value), after.id, PAGE_SIZE + 1)
    return ReadCase(
        f"page {page} of one version, newest first",
        lambda: list_calls(engine, f, "newest", after, PAGE_SIZE).rows,
        raw_sql,
        params,
        Target("max_ratio", 2, also_max_ms=10),
        page_ids,
    )


def search_words(data: Dataset) -> list[tuple[str, str]]:
    """The searched words with the share of calls they occur in."""
    return [
        (RARE_WORD, f"{RARE_SHARE:.1%}"),
        (data.mid_word, f"{MID_SHARE:.0%}"),
        (COMMON_WORD, f"{COMMON_SHARE:.0%}"),
    ]


def search_case(engine: Engine, word: str, share: str) -> ReadCase:
    f = CallFilter(search=word)
    return ReadCase(
        f"search page 1, word in {share} of calls '{word}'",
        lambda: list_calls(engine, f, "newest", None, PAGE_SIZE).rows,
        SEARCH_PAGE_SQL,
        (escape_fts(word), PAGE_SIZE + 1),
        Target("max_ms", 50),
        page_ids,
    )


def count_case(engine: Engine, label: str, f: CallFilter, sql: str, params: tuple) -> ReadCase:
    """Browse's counts (browse_counts: a broad search alone is not split per version, so its
    answer is compared by total) against the raw count per version."""
    return ReadCase(
        f"count by version, {label}",
        lambda: browse_counts(engine, f),
        sql,
        params,
        Target("max_ratio", 2, also_max_ms=10),
        total_count if f.search else sorted_counts,
    )


@dataclass(frozen=True)
class Dataset:
    """Facts about the store that the read cases need."""

    calls: int
    version: str  # the model version with the most calls
    version_calls: int
    end: datetime  # created_at of the newest call
    mid_word: str  # a word of the FTS vocabulary found in ~MID_SHARE of the calls

    @staticmethod
    def of(conn: sqlite3.Connection) -> Dataset:
        calls = conn.execute("SELECT count(*) FROM calls").fetchone()[0]
        version, version_calls = conn.execute(LARGEST_VERSION_SQL).fetchone()
        end = conn.execute(NEWEST_CALL_SQL).fetchone()[0]
        conn.execute(FTS_TERMS_SQL)
        word = conn.execute(WORD_IN_AT_LEAST_SQL, (int(calls * MID_SHARE),)).fetchone()[0]
        return Dataset(calls, version, version_calls, datetime.fromisoformat(end), word)


def read_cases(engine: Engine, conn: sqlite3.Connection, data: Dataset) -> list[ReadCase]:
    deep = min(DEEP_PAGE, data.version_calls // PAGE_SIZE)
    week = CallFilter(since=data.end - timedelta(days=7), until=data.end)
    week_params = (stamp(data.end - timedelta(days=7)), stamp(data.end))
    return [
        page_case(engine, data.version, 1, None),
        page_case(engine, data.version, deep, deep_cursor(conn, data.version, deep)),
        *(search_case(engine, word, share) for word, share in search_words(data)),
        count_case(engine, "no filter", CallFilter(), COUNT_SQL, ()),
        count_case(engine, "last 7 days", week, COUNT_RANGE_SQL, week_params),
        count_case(
            engine,
            f"search '{COMMON_WORD}'",
            CallFilter(search=COMMON_WORD),
            COUNT_SEARCH_SQL,
            (escape_fts(COMMON_WORD),),
        ),
    ]


def list_calls_breakdown(
    engine: Engine, conn: sqlite3.Connection, version: str
) -> dict[str, Timing]:
    """Where one list_calls (page 1 of a version) spends its time, step by step."""
    f = CallFilter(model_versions=(version,))
    with engine.connect() as sa_conn:
        statement = page_query(sa_conn, f, "newest", None, PAGE_SIZE + 1)
        steps = {
            "list_calls, whole": lambda: list_calls(engine, f),
            "filter_conditions (resolves the version name: 1 query)": lambda: filter_conditions(
                sa_conn, f
            ),
            "page_query (builds the SELECT, incl. the lookup)": lambda: page_query(
                sa_conn, f, "newest", None, PAGE_SIZE + 1
            ),
            "execute the built SELECT + fetch 51 rows": lambda: sa_conn.execute(statement).all(),
            "raw sqlite3, same page": lambda: conn.execute(
                VERSION_PAGE_SQL, (version, PAGE_SIZE + 1)
            ).fetchall(),
        }
        timings = timeit(*steps.values(), repeat=REPEAT * 10)
    return dict(zip(steps, timings, strict=True))


def run_reads(path: Path) -> tuple[list[Result], dict[str, Any], dict[str, Timing]]:
    engine = open_store(sqlite_url(path))
    with closing(raw_connect(path)) as conn:
        data = Dataset.of(conn)
        bench = ReadBench(engine, conn)
        results = [bench.measure(case) for case in read_cases(engine, conn, data)]
        breakdown = list_calls_breakdown(engine, conn, data.version)
    engine.dispose()
    return results, bench.plans, breakdown


# ----------------------------------------------------------------- the importer's id check










def external_id_statements(keys: list[tuple[str, str]]) -> tuple[Statement, Statement]:
    """The old row-value IN (VALUES ...) check and the per-source IN list evalboard now sends."""
    pairs = ", ".join(["(?, ?)"] * len(keys))
    current = (
        "SELECT source, external_id FROM calls WHERE (source, external_id) IN (VALUES "
        + pairs
        + ")",
        [part for key in keys for part in key],
    )
    ids = [external_id for _, external_id in keys]
    proposed = (  # one IN list per source; the importer's chunks hold a single source
        "SELECT source, external_id FROM calls WHERE source = ? AND external_id IN ("
        + ", ".join(["?"] * len(ids))
        + ")",
        [keys[0][0], *ids],
    )
    return current, proposed






# --------------------------------------------------------------------------- writes


def new_calls(count: int, after: datetime, serial0: int) -> list[FakeCall]:
    """Fresh calls over the hour after `after`; `serial0` keeps their external ids apart."""
    return list(CallFactory(SEED + serial0).calls(count, after, timedelta(hours=1), serial0))


def exported_calls(count: int, after: datetime, serial0: int) -> list[FakeCall]:
    """Calls as another tool exports them: each with its own id, all to be imported."""
    return [
        replace(call, source="import", external_id=f"export-{serial0 + i}")
        for i, call in enumerate(new_calls(count, after, serial0))
    ]


def log_with_evalboard(path: Path, calls: list[FakeCall], latencies: list[float]) -> float:
    """Seconds to log through connect(mode="batch") + flush; appends each log_call's ms."""
    kwargs = [call.log_kwargs() for call in calls]
    letter = sibling(path, ".unwritten.jsonl")
    with evalboard.connect(sqlite_url(path), mode="batch", dead_letter=letter) as client:
        started = time.perf_counter()
        for item in kwargs:
            before = time.perf_counter()
            client.log_call(**item)
            latencies.append((time.perf_counter() - before) * 1000)
        client.flush()
        return time.perf_counter() - started


def raw_ids_and_versions(path: Path, count: int) -> tuple[range, dict[str, int]]:
    """Ids from the store's own counter (never clashing with evalboard's) and version ids."""
    engine = open_store(sqlite_url(path))
    ids, versions = reserve_ids(engine, count), insert_versions(engine)
    engine.dispose()
    return ids, versions


def log_with_raw(path: Path, calls: list[FakeCall]) -> float:
    """Seconds of executemany in transactions of LOG_BATCH_SIZE rows."""
    ids, versions = raw_ids_and_versions(path, len(calls))
    with closing(raw_connect(path)) as conn:
        started = time.perf_counter()
        rows = (call.db_row(i, versions) for i, call in zip(ids, calls, strict=True))
        insert_calls_raw(conn, rows, LOG_BATCH_SIZE)
        return time.perf_counter() - started


def logging_results(path: Path, count: int, after: datetime) -> list[Result]:
    """evalboard and raw take turns (LOG_ROUNDS each), so FTS merges hit both alike."""
    share = count // LOG_ROUNDS
    ours_s = raw_s = 0.0
    latencies: list[float] = []
    for turn in range(LOG_ROUNDS):
        ours_s += log_with_evalboard(path, new_calls(share, after, 10**9 + turn * share), latencies)
        raw_s += log_with_raw(path, new_calls(share, after, 2 * 10**9 + turn * share))
    ours, raw = share * LOG_ROUNDS / ours_s, share * LOG_ROUNDS / raw_s
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    latency_target = Target("max_ms", 0.05)
    return [
        throughput_result(
            f"log {count:,} calls (batch mode + flush)", ours, raw, Target("min_ratio", 0.5)
        ),
        Result(
            "log_call latency seen by the caller",
            f"p50 {p50:.4f} ms, p99 {p99:.3f} ms, max {max(latencies):.0f} ms",
            "-",
            None,
            "p50 " + latency_target.describe(),
            latency_target.verdict(p50, None),
            {"p50_ms": p50, "p99_ms": p99, "max_ms": max(latencies)},
        ),
    ]


def write_jsonl(path: Path, calls: list[FakeCall]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for call in calls:
            handle.write(call.json_line() + "\n")
    return path


def import_with_raw(store: Path, source: Path) -> int:
    """json.loads every line and executemany in transactions of the importer's batch size."""
    with source.open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    ids, versions = raw_ids_and_versions(store, len(records))

    def row(call_id: int, record: dict[str, Any]) -> tuple[Any, ...]:
        record["created_at"] = datetime.fromisoformat(record["created_at"])
        return FakeCall(**record, source="import").db_row(call_id, versions)

    rows = (row(i, record) for i, record in zip(ids, records, strict=True))
    with closing(raw_connect(store)) as conn:
        return insert_calls_raw(conn, rows, IMPORT_BATCH_SIZE)


def import_with_evalboard(store: Path, source: Path, seen: list[Statement]) -> int:
    engine = open_store(sqlite_url(store))
    with captured_sql(engine) as statements:
        summary = import_file(engine, source)
    engine.dispose()
    seen.extend(statements)
    if summary.problems:
        raise RuntimeError(f"import reported problems: {summary.problems[:3]}")
    return summary.imported


def compare_imports(
    stores: tuple[Path, Path], files: tuple[Path, Path], seen: list[Statement]
) -> tuple[float, float]:
    """rows/s of import_file into stores[0] and of the raw importer into stores[1]."""
    ours = rows_per_second(lambda: import_with_evalboard(stores[0], files[0], seen))
    raw = rows_per_second(lambda: import_with_raw(stores[1], files[1]))
    return ours, raw


def import_fresh_result(work: Path, count: int) -> Result:
    """Both importers read the same JSONL file, each into its own fresh, migrated store."""
    calls = exported_calls(count, period_start(), 0)
    source = write_jsonl(sibling(work, ".import.jsonl"), calls)
    stores = (sibling(work, ".fresh-a"), sibling(work, ".fresh-b"))
    for store in stores:
        open_store(sqlite_url(store)).dispose()  # migrated before the clock starts
    try:
        ours, raw = compare_imports(stores, (source, source), [])
    finally:
        source.unlink(missing_ok=True)
        for store in stores:
            remove_store(store)
    name = f"import {count:,}-line JSONL into a fresh store"
    return throughput_result(name, ours, raw, Target("info"))


def import_big_result(scratch: Path, count: int, after: datetime, plans: dict[str, Any]) -> Result:
    """Both importers add `count` new calls to the big store (copy); evalboard checks ids."""
    name = f"import {count:,}-line JSONL into the {scratch_size(scratch)} store"
    files = (sibling(scratch, ".a.jsonl"), sibling(scratch, ".b.jsonl"))
    for file, serial0 in zip(files, (3 * 10**9, 4 * 10**9), strict=True):
        write_jsonl(file, exported_calls(count, after, serial0))
    seen: list[Statement] = []
    try:
        ours, raw = compare_imports((scratch, scratch), files, seen)
    finally:
        for file in files:
            file.unlink(missing_ok=True)
    sql, params = reading_calls(seen, ("external_id",))
    # evalboard now sends `source = ? AND external_id IN (...)` (the fix proposed here first)
    keys = [(params[0], external_id) for external_id in params[1:]]
    with closing(raw_connect(scratch)) as conn:
        plans["import: external-id check, evalboard vs the row-value form"] = plan_record(
            conn, (sql, params), external_id_statements(keys)[0]
        )
    return throughput_result(name, ours, raw, Target("info"))


def scratch_size(path: Path) -> str:
    return f"{scalar(path, 'SELECT count(*) FROM calls'):,}-call"


def run_writes(path: Path, count: int, plans: dict[str, Any]) -> list[Result]:
    """Logging and importing into a scratch copy of the store, then importing into new ones."""
    after = dataset_end(path) + timedelta(seconds=1)
    scratch = sibling(path, ".scratch")
    with closing(raw_connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(path, scratch)
    try:
        results = logging_results(scratch, count, after)
        results.append(import_big_result(scratch, count // 5, after, plans))  # 20k at 1M
    finally:
        remove_store(scratch)
    return [*results, import_fresh_result(path, count)]


# --------------------------------------------------------------------------- report

TABLE_HEADER = ("operation", "evalboard", "raw sqlite3", "ratio eb/raw", "target", "verdict")


def format_table(results: list[Result], header: tuple[str, ...] = TABLE_HEADER) -> str:
    """A Markdown table."""
    rows = [header] + [
        (
            r.operation,
            r.evalboard,
            r.raw,
            "-" if r.ratio is None else f"{r.ratio:.2f}x",
            r.target,
            r.verdict,
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def format_plans(plans: dict[str, dict[str, Any]]) -> str:
    blocks = []
    for operation, plan in plans.items():
        block = [f"== {operation}"]
        for side in ("evalboard", "raw"):
            block += [f"{side} SQL: {plan[f'{side}_sql']}"]
            block += ["  params: " + ", ".join(plan[f"{side}_params"])]
            block += ["  plan: " + line for line in plan[f"{side}_plan"]]
        blocks.append("\n".join(block))
    return "\n\n".join(blocks)


def format_breakdown(breakdown: dict[str, Timing]) -> str:
    lines = ["where list_calls spends its time (page 1 of one version):"]
    lines += [f"  {timing.median_ms:7.3f} ms  {step}" for step, timing in breakdown.items()]
    return "\n".join(lines)


def environment(path: Path) -> dict[str, Any]:
    return {
        "calls": scalar(path, "SELECT count(*) FROM calls"),
        "db": str(path),
        "db_bytes": path.stat().st_size,
        "when": clock.now().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "cpus": os.cpu_count(),
        "repeat": REPEAT,
    }


def results_file(calls: int) -> Path:
    """bench/results/store.json, or store-<calls>.json for a store of another size."""
    return (RESULTS_FILE if calls == DEFAULT_CALLS
            else RESULTS_FILE.with_name(f"{RESULTS_FILE.stem}-{calls}.json"))


def save(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS, help="calls in the store")
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help="SQLite file to build")
    parser.add_argument("--reuse", action="store_true", help="reuse the store at --db if it exists")
    parser.add_argument(
        "--write-calls", type=int, default=WRITE_CALLS, help="calls to log and to import"
    )
    parser.add_argument("--build-only", action="store_true", help="build the store only")
    parser.add_argument("--reads-only", action="store_true",
                        help="measure the reads only (no logging or imports into copies)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    path: Path = args.db.resolve()
    if args.reuse and path.exists():
        print(f"reusing {path}", flush=True)
    else:
        build_store(path, args.calls)
    if args.build_only:
        return
    env = environment(path)
    print(f"store: {path} ({env['calls']:,} calls, {env['db_bytes'] / 2**20:,.0f} MiB)")
    print("measuring reads ...", flush=True)
    reads, plans, breakdown = run_reads(path)
    print(format_plans(plans), format_breakdown(breakdown), sep="\n\n", end="\n\n")
    extra_plans: dict[str, Any] = {}
    writes = []
    if not args.reads_only:
        print("measuring writes (into copies of the store) ...", flush=True)
        writes = run_writes(path, args.write_calls, extra_plans)
        print(format_plans(extra_plans), end="\n\n")
    print(format_table(reads + writes))
    save(
        {
            "environment": env,
            "results": [asdict(r) for r in reads + writes],
            "list_calls_breakdown": {step: asdict(t) for step, t in breakdown.items()},
            "plans": {**plans, **extra_plans},
        },
        results_file(args.calls),
    )
    print(f"\nwrote {results_file(args.calls)}")


if __name__ == "__main__":
    main()
