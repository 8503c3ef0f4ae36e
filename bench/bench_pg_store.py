"""Benchmark the store on PostgreSQL against raw psycopg SQL on the same database.

`python -m bench.bench_pg_store --db postgresql+psycopg://127.0.0.1:PORT/bench [--calls N]`
builds the bench store's calls (bench/fake_calls.py: 60 days, 10 versions) through COPY
(secondary indexes dropped during the load and built after it, then the rollups and ANALYZE),
then measures Browse pages (page 1, page 1000 of the largest version), search pages (words in
0.1%, 2% and 30% of the calls) and counts per version through evalboard, next to hand-written
SQL on a raw psycopg connection, and prints `EXPLAIN (ANALYZE, BUFFERS)` of both. A throwaway
server: `python -m tests.pg_server start` (127.0.0.1; fsync off, as the tests run it).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.engine import make_url

from bench.bench_store import (
    BENCH_DIR,
    DEEP_PAGE,
    IMPORT_BATCH_SIZE,
    MID_SHARE,
    PAGE_SIZE,
    REPEAT,
    Target,
    exported_calls,
    import_file,
    insert_versions,
    latency_result,
    page_ids,
    rows_per_second,
    sorted_counts,
    throughput_result,
    timeit,
    total_count,
    write_jsonl,
)
from bench.fake_calls import (
    COMMON_SHARE,
    COMMON_WORD,
    DAYS,
    RARE_SHARE,
    RARE_WORD,
    SEED,
    CallFactory,
    FakeCall,
    period_start,
)
from bench.fake_history import (
    ANNOTATIONS,
    CASES,
    HISTORY_TABLES,
    PsycopgWriter,
    keep_history_current,
    write_history,
)
from evalboard import clock
from evalboard.iterutil import chunked
from evalboard.store import open_store
from evalboard.store.calls_counts import PG_SEARCH_COUNT_BOUND, browse_counts
from evalboard.store.calls_pages import Cursor, list_calls, page_query
from evalboard.store.calls_query import CallFilter
from evalboard.store.ids import reserve_ids
from evalboard.store.models import ModelVersion

RESULTS_FILE = BENCH_DIR / "results" / "pg_store.json"
COPY_COLUMNS = ("id", "created_at", "model_version_id", "source", "input_text",
                "input_messages", "output", "latency_ms", "prompt_tokens", "completion_tokens",
                "total_tokens", "error", "metadata", "session_id", "external_id", "input_hash")
COPY_CHUNK = 50_000
DOCUMENT = "search_document"  # the stored tsvector column of migration 0017

PAGE_COLUMNS = (
    "SELECT c.id, c.created_at, mv.name, c.source, left(c.input_text, 160), "
    "left(c.output, 160), c.latency_ms, c.total_tokens, c.error IS NOT NULL, "
    "c.input_messages IS NOT NULL "
    "FROM calls AS c JOIN model_versions AS mv ON mv.id = c.model_version_id "
)
NEWEST_PAGE = " ORDER BY c.created_at DESC, c.id DESC LIMIT %s"
IN_VERSION = "WHERE c.model_version_id = (SELECT id FROM model_versions WHERE name = %s)"
VERSION_PAGE_SQL = PAGE_COLUMNS + IN_VERSION + NEWEST_PAGE
VERSION_PAGE_AFTER_SQL = PAGE_COLUMNS + IN_VERSION + " AND (c.created_at, c.id) < (%s, %s)" \
    + NEWEST_PAGE
ALIASED_DOCUMENT = "c." + DOCUMENT
SEARCH_PAGE_SQL = (PAGE_COLUMNS + f"WHERE {ALIASED_DOCUMENT} @@ plainto_tsquery('simple', %s)"
                   + NEWEST_PAGE)
COUNT_SQL = "SELECT model_version_id, count(*) FROM calls GROUP BY model_version_id"
COUNT_RANGE_SQL = ("SELECT model_version_id, count(*) FROM calls WHERE created_at >= %s "
                   "AND created_at < %s GROUP BY model_version_id")
COUNT_SEARCH_SQL = (f"SELECT count(*) FROM (SELECT 1 FROM calls WHERE {DOCUMENT} @@ "
                    "plainto_tsquery('simple', %s) LIMIT %s) AS matches")
SPLIT_SEARCH_SQL = (f"SELECT model_version_id, count(*) FROM calls WHERE {DOCUMENT} @@ "
                    "plainto_tsquery('simple', %s) GROUP BY model_version_id")
NTH_ROW_SQL = ("SELECT created_at, id FROM calls WHERE model_version_id = (SELECT id FROM "
               "model_versions WHERE name = %s) ORDER BY created_at DESC, id DESC "
               "LIMIT 1 OFFSET %s")
LARGEST_VERSION_SQL = ("SELECT mv.name, count(*) AS n FROM calls c JOIN model_versions mv ON "
                       "mv.id = c.model_version_id GROUP BY mv.name ORDER BY n DESC LIMIT 1")


def raw_url(url: str) -> str:
    """The libpq URL of a SQLAlchemy PostgreSQL URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# --------------------------------------------------------------------------- build

def secondary_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(name, CREATE INDEX ...) of the calls indexes that no constraint owns."""
    return list(conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = 'calls' AND "
        "NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)").fetchall())


def build_store(url: str, count: int) -> float:
    """Migrate through open_store, reserve the ids, COPY the calls with the secondary indexes
    dropped, build them, rebuild the rollups, ANALYZE. Returns the seconds it took."""
    started = time.perf_counter()
    start = period_start()
    engine = open_store(url)
    versions = insert_versions(engine, start)
    ids = reserve_ids(engine, count)
    calls = CallFactory().calls(count, start, timedelta(days=DAYS))
    with psycopg.connect(raw_url(url), autocommit=True) as conn:
        conn.execute(f"TRUNCATE calls, {', '.join(HISTORY_TABLES)} CASCADE")
        indexes = secondary_indexes(conn)
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        written = 0
        rows = (call.db_row(i, versions) for i, call in zip(ids, calls, strict=True))
        for chunk in chunked(rows, COPY_CHUNK):
            with conn.transaction(), conn.cursor() as cursor, cursor.copy(
                    f"COPY calls ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
                for row in chunk:
                    copy.write_row(row)
            written += len(chunk)
            if written % (COPY_CHUNK * 4) == 0:
                print(f"  copied {written:,}/{count:,} calls "
                      f"({time.perf_counter() - started:.0f} s)", flush=True)
        copied = time.perf_counter() - started
        conn.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            conn.execute(definition)
        print(f"copied in {copied:.0f} s, indexes in {time.perf_counter() - started - copied:.0f}"
              " s", flush=True)
    engine.dispose()
    add_history(url)
    seconds = time.perf_counter() - started
    print(f"built {count:,} calls in {seconds:.0f} s", flush=True)
    return seconds


def add_history(url: str) -> None:
    """The SQLite store's annotations, suite and runs (bench/fake_history.py), the sequences
    moved past their fixed ids, then the rollups, flags and totals, and VACUUM ANALYZE."""
    started = time.perf_counter()
    with psycopg.connect(raw_url(url)) as conn:
        annotations, runs = write_history(PsycopgWriter(conn), random.Random(SEED),
                                          start=period_start(), days=DAYS, cases=CASES,
                                          annotations=ANNOTATIONS)
        for table in HISTORY_TABLES:
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                         f"(SELECT max(id) FROM {table}))")
    engine = open_store(url)
    keep_history_current(engine, runs)
    engine.dispose()
    with psycopg.connect(raw_url(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    print(f"added {annotations:,} annotations, {CASES:,} cases, {runs} runs, the rollups and "
          f"VACUUM ANALYZE in {time.perf_counter() - started:.0f} s", flush=True)


# --------------------------------------------------------------------------- imports

def copy_database(url: str, template: str) -> None:
    """Make the database of `url` a fresh copy of `template` on the same server."""
    parsed = make_url(url)
    server = raw_url(parsed.set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}"')
        conn.execute(f'CREATE DATABASE "{parsed.database}" TEMPLATE "{template}"')


def copy_of(url: str, suffix: str) -> str:
    """A fresh copy of the database of `url`, named <database>_<suffix>; its URL."""
    parsed = make_url(url)
    copy = parsed.set(database=f"{parsed.database}_{suffix}").render_as_string(
        hide_password=False)
    copy_database(copy, str(parsed.database))
    return copy


def import_raw(url: str, source: Path) -> int:
    """json.loads every line, executemany in transactions of the importer's batch size."""
    with source.open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    engine = open_store(url)
    ids = iter(reserve_ids(engine, len(records)))
    with engine.connect() as sa_conn:
        versions = dict(sa_conn.execute(select(ModelVersion.name, ModelVersion.id)).all())
    engine.dispose()
    insert = (f"INSERT INTO calls ({', '.join(COPY_COLUMNS)}) VALUES "
              f"({', '.join(['%s'] * len(COPY_COLUMNS))})")
    with psycopg.connect(raw_url(url)) as conn:
        for chunk in chunked(records, IMPORT_BATCH_SIZE):
            rows = []
            for record in chunk:
                record["created_at"] = datetime.fromisoformat(record["created_at"])
                rows.append(FakeCall(**record, source="import").db_row(next(ids), versions))
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(insert, rows)
    return len(records)


def import_results(url: str, count: int) -> list[dict[str, Any]]:
    """`count` exported calls imported into a copy of the store by `import_file` and by the
    raw importer (each its own file of new external ids); rows/s each, and the ratio."""
    work = BENCH_DIR / "results"
    work.mkdir(exist_ok=True)
    copy = copy_of(url, "import")
    files = [write_jsonl(work / f"pg-import-{k}.jsonl", exported_calls(
        count, clock.now(), serial0)) for k, serial0 in enumerate((3 * 10**9, 4 * 10**9))]
    try:
        engine = open_store(copy)
        ours = rows_per_second(lambda: import_file(engine, files[0]).imported)
        engine.dispose()
        raw = rows_per_second(lambda: import_raw(copy, files[1]))
    finally:
        for file in files:
            file.unlink(missing_ok=True)
        with psycopg.connect(raw_url(url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{make_url(copy).database}"')
    result = throughput_result(f"import {count:,}-line JSONL into the store", ours, raw,
                               Target("info"))
    print(f"  {result.operation}: {result.evalboard} (raw {result.raw})", flush=True)
    return [asdict(result)]


# --------------------------------------------------------------------------- reads

@dataclass(frozen=True)
class ReadCase:
    operation: str
    ours: Callable[[], Any]
    raw_sql: str
    raw_params: tuple[Any, ...]
    target: Target
    key: Callable[[Any], Any]
    statement: Callable[[Connection], Any] | None = None  # evalboard's SELECT, to EXPLAIN


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements (with parameters) evalboard sends while the block runs."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
               _many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def explain(conn: psycopg.Connection, sql: str, params: Any) -> list[str]:
    rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).fetchall()
    return [row[0] for row in rows]


def word_in_share(conn: psycopg.Connection, share: float, total: int) -> str:
    """A word found in about `share` of the calls (from the statistics of a sample)."""
    rows = conn.execute(
        f"SELECT word, ndoc FROM ts_stat($$SELECT {DOCUMENT} FROM calls TABLESAMPLE "
        "SYSTEM (2)$$) WHERE word ~ '^[a-z]+$' ORDER BY abs(ndoc - (SELECT count(*) FROM calls "
        f"TABLESAMPLE SYSTEM (2)) * {share}) LIMIT 1").fetchone()
    assert rows is not None
    return str(rows[0])


def read_cases(engine: Engine, conn: psycopg.Connection) -> list[ReadCase]:
    total = conn.execute("SELECT count(*) FROM calls").fetchone()[0]  # type: ignore[index]
    version, version_calls = conn.execute(LARGEST_VERSION_SQL).fetchone()  # type: ignore[misc]
    end = conn.execute("SELECT max(created_at) FROM calls").fetchone()[0]  # type: ignore[index]
    deep = min(DEEP_PAGE, version_calls // PAGE_SIZE)
    created_at, call_id = conn.execute(NTH_ROW_SQL, (version, (deep - 1) * PAGE_SIZE - 1)
                                       ).fetchone()  # type: ignore[misc]
    after = Cursor(created_at, call_id)
    mid_word = word_in_share(conn, MID_SHARE, total)
    f_version = CallFilter(model_versions=(version,))
    week = CallFilter(since=end - timedelta(days=7), until=end)
    page_target = Target("max_ratio", 2, also_max_ms=10)
    cases = [
        ReadCase("page 1 of one version, newest first",
                 lambda: list_calls(engine, f_version, "newest", None, PAGE_SIZE).rows,
                 VERSION_PAGE_SQL, (version, PAGE_SIZE + 1), page_target, page_ids,
                 lambda c: page_query(c, f_version, "newest", None, PAGE_SIZE + 1)),
        ReadCase(f"page {deep} of one version, newest first",
                 lambda: list_calls(engine, f_version, "newest", after, PAGE_SIZE).rows,
                 VERSION_PAGE_AFTER_SQL, (version, created_at, call_id, PAGE_SIZE + 1),
                 page_target, page_ids,
                 lambda c: page_query(c, f_version, "newest", after, PAGE_SIZE + 1)),
    ]
    for word, share in ((RARE_WORD, f"{RARE_SHARE:.1%}"), (mid_word, f"{MID_SHARE:.0%}"),
                        (COMMON_WORD, f"{COMMON_SHARE:.0%}")):
        f = CallFilter(search=word)
        cases.append(ReadCase(
            f"search page 1, word in {share} of calls '{word}'",
            lambda f=f: list_calls(engine, f, "newest", None, PAGE_SIZE).rows,
            SEARCH_PAGE_SQL, (word, PAGE_SIZE + 1), Target("max_ms", 50), page_ids,
            lambda c, f=f: page_query(c, f, "newest", None, PAGE_SIZE + 1)))
    cases += [
        ReadCase("count by version, no filter", lambda: browse_counts(engine, CallFilter()),
                 COUNT_SQL, (), page_target, sorted_counts),
        ReadCase("count by version, last 7 days", lambda: browse_counts(engine, week),
                 COUNT_RANGE_SQL, (week.since, week.until), page_target, sorted_counts),
        ReadCase(f"count of a search alone '{COMMON_WORD}' (up to {PG_SEARCH_COUNT_BOUND:,})",
                 lambda: browse_counts(engine, CallFilter(search=COMMON_WORD)),
                 COUNT_SEARCH_SQL, (COMMON_WORD, PG_SEARCH_COUNT_BOUND + 1), page_target,
                 lambda answer: [min(total_count(answer)[0] if not isinstance(answer, list)
                                     else answer[0][0], PG_SEARCH_COUNT_BOUND)]),
        ReadCase(f"count by version, search '{COMMON_WORD}' (split asked)",
                 lambda: browse_counts(engine, CallFilter(search=COMMON_WORD), None),
                 SPLIT_SEARCH_SQL, (COMMON_WORD,), Target("max_ratio", 2), sorted_counts),
    ]
    return cases


def measure(engine: Engine, conn: psycopg.Connection, case: ReadCase, repeat: int
            ) -> tuple[dict[str, Any], dict[str, Any]]:
    with captured(engine) as seen:
        answer = case.ours()
    raw_answer = conn.execute(case.raw_sql, case.raw_params).fetchall()
    ours, raw = timeit(case.ours, lambda: conn.execute(case.raw_sql, case.raw_params).fetchall(),
                       repeat=repeat)
    result = latency_result(case.operation, ours, raw, case.target)
    if case.key(answer) != case.key(raw_answer):
        result.verdict += " (answers differ!)"
    reads = [(sql, params) for sql, params in seen if "calls" in sql and
             sql.lstrip().upper().startswith(("SELECT", "WITH"))]
    plans = {"raw": explain(conn, case.raw_sql, case.raw_params)}
    if case.statement is not None:
        with engine.connect() as sa_conn:
            compiled = case.statement(sa_conn).compile(
                dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
        plans["evalboard"] = explain(conn, str(compiled), compiled.params)
    elif reads:
        sql, params = max(reads, key=lambda item: len(item[0]))
        plans["evalboard"] = explain(conn, sql, params)
    return asdict(result), plans


def run_reads(url: str, repeat: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    engine = open_store(url)
    results, plans = [], {}
    with psycopg.connect(raw_url(url), autocommit=True) as conn:
        for case in read_cases(engine, conn):
            result, plan = measure(engine, conn, case, repeat)
            print(f"  {case.operation}: {result['evalboard']} (raw {result['raw']})",
                  flush=True)
            results.append(result)
            plans[case.operation] = plan
    engine.dispose()
    return results, plans


def format_table(results: Sequence[dict[str, Any]]) -> str:
    lines = ["| operation | evalboard | raw psycopg | ratio | target | verdict |",
             "|---|---|---|---|---|---|"]
    for r in results:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        lines.append(f"| {r['operation']} | {r['evalboard']} | {r['raw']} | {ratio} | "
                     f"{r['target']} | {r['verdict']} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", required=True, help="postgresql+psycopg://... (a database "
                        "the bench may fill; its calls are replaced)")
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="measure the store as it is")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--imports", type=int, default=20_000, metavar="N",
                        help="also import N JSONL lines into a copy of the store (0: none)")
    parser.add_argument("--history-only", action="store_true",
                        help="add the annotations, suite and runs to a store of calls alone")
    parser.add_argument("--repeat", type=int, default=REPEAT, help="timed runs of each query")
    args = parser.parse_args(argv)
    build_seconds = None
    if args.history_only:
        add_history(args.db)
        return 0
    if not args.reuse:
        build_seconds = build_store(args.db, args.calls)
    if args.build_only:
        return 0
    results, plans = run_reads(args.db, args.repeat)
    if args.imports:
        results += import_results(args.db, args.imports)
    print(format_table(results))
    for operation, plan in plans.items():
        print(f"\n--- {operation}")
        for side, lines in plan.items():
            print(f"  [{side}]")
            print("\n".join("    " + line for line in lines))
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    with engine_store_size(args.db) as size:
        RESULTS_FILE.write_text(json.dumps({
            "calls": args.calls, "build_seconds": build_seconds, "bytes": size,
            "measured_at": clock.now().isoformat(timespec="seconds"),
            "results": results, "plans": plans}, indent=1, default=str))
    return 0


@contextmanager
def engine_store_size(url: str) -> Iterator[int]:
    with psycopg.connect(raw_url(url)) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        yield int(row[0]) if row else 0


if __name__ == "__main__":
    raise SystemExit(main())
