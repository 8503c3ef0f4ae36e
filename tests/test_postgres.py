"""evalboard on PostgreSQL: migrations, Browse queries, search, import/export, review, runs,
NUL characters, `db copy` both ways, and concurrent loggers (on SQLite as well).

The server is a throwaway one started for this module (tests/pg_server.py), or the one that
$EVALBOARD_TEST_PG_URL names; every test gets a fresh database on it. Without PostgreSQL
binaries the PostgreSQL tests are skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select, text

import evalboard
from evalboard.cases.draft import CaseDraft
from evalboard.cases.repository import create_case
from evalboard.checks import CheckSpec
from evalboard.exchange.exporting import export_calls
from evalboard.exchange.importing import import_file
from evalboard.review.annotations import Judgement, annotate, current_judgement, undo_last
from evalboard.runs.runner import run_suite
from evalboard.store import migrate, open_store
from evalboard.store.backup import BackupError, backup_sqlite
from evalboard.store.calls_counts import count_by_version, count_calls
from evalboard.store.calls_pages import list_calls, page_query
from evalboard.store.calls_query import SORTS, CallFilter, get_call, iter_calls, matching_ids
from evalboard.store.copy import copy_store
from evalboard.store.engine import StoreURLError, make_engine
from evalboard.store.ids import IdPool, reserve_ids
from evalboard.store.models import Call, ModelVersion
from evalboard.store.schema import Base
from evalboard.store.schema_extras import PG_FTS_INDEX, include_object
from evalboard.store.search import SearchSyntaxError, validate_advanced_query
from evalboard.store.writes import ensure_model_versions
from tests.pg_server import SERVER_ENV, PostgresUnavailable, fresh_database, running_server
from tests.support.calls import T0, add_calls
from tests.test_backup_copy import fill_store, search_results, store_rows


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    """The URL of a PostgreSQL server for this module (skips when there is none)."""
    if os.environ.get(SERVER_ENV):
        yield os.environ[SERVER_ENV]
        return
    with ExitStack() as stack:
        try:
            url = stack.enter_context(running_server())
        except PostgresUnavailable as exc:
            pytest.skip(str(exc))
        yield url


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    with fresh_database(pg_server) as url:
        yield url


@pytest.fixture
def pg(pg_url: str) -> Iterator[Engine]:
    engine = open_store(pg_url)
    yield engine
    engine.dispose()


def _drift(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_object, "compare_type": True})
        return compare_metadata(context, Base.metadata)


# ---------------------------------------------------------------- schema


def test_migrations_round_trip_without_drift_and_keep_search_working(pg_url):
    engine = make_engine(pg_url)
    migrate.upgrade(engine, "0001")
    with engine.begin() as conn:  # a call logged before later revisions backfill their columns
        conn.execute(text("INSERT INTO model_versions (id, name, created_at) "
                          "VALUES (1, 'v', '2026-01-01')"))
        conn.execute(text(
            "INSERT INTO calls (id, created_at, model_version_id, source, input_text, output) "
            "VALUES (1, '2026-01-01', 1, 'production', 'Old Prompt', 'old answer')"))

    assert migrate.upgrade(engine) is None  # no automatic backup on PostgreSQL
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert _drift(engine) == []
    assert PG_FTS_INDEX in {ix["name"] for ix in inspect(engine).get_indexes("calls")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT input_hash FROM calls")).scalar() is not None

    migrate.downgrade(engine, "0001")
    assert PG_FTS_INDEX not in {ix["name"] for ix in inspect(engine).get_indexes("calls")}
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    migrate.upgrade(engine)
    assert _drift(engine) == []
    add_calls(engine, [{"input": "fresh words", "output": "zebra"}])
    assert matching_ids(engine, CallFilter(search="zebra")) == [1]
    engine.dispose()


def test_unreachable_or_missing_databases_are_one_line_store_errors(pg_server):
    with pytest.raises(StoreURLError, match="does not exist"):
        make_engine(pg_server.rsplit("/", 1)[0] + "/no_such_db")
    with pytest.raises(StoreURLError, match="cannot connect"):
        make_engine("postgresql+psycopg://postgres@127.0.0.1:1/evalboard")
    with pytest.raises(BackupError, match="pg_dump"):
        backup_sqlite(pg_server, "never.db")


# ---------------------------------------------------------------- writes and Browse


def _browse_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i in range(60):
        rows.append({
            "input": f"question {i} about the refund policy" if i % 3 == 0 else f"question {i}",
            "output": "It's C++ time" if i == 7 else f"answer {i}",
            "model_version": ("alpha", "beta", "gamma")[i % 3],
            "source": "eval" if i % 4 == 0 else "production",
            "latency_ms": None if i == 5 else float((i * 37) % 50),
            "prompt_tokens": i % 7, "completion_tokens": 3,
            "error": "TimeoutError" if i % 10 == 9 else None,
            "metadata": {"tier": "gold" if i % 2 else "free", "n": i},
            "created_at": T0 + timedelta(minutes=i // 2),  # ties: the id breaks them
        })
    return rows


def _all_pages(engine: Engine, f: CallFilter, sort_key: str) -> list[int]:
    ids, cursor = [], None
    while True:
        page = list_calls(engine, f, sort_key, cursor, limit=7)
        ids.extend(row.id for row in page.rows)
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def test_filters_keyset_pages_counts_and_metadata(pg):
    rows = _browse_rows()
    add_calls(pg, rows)
    ids = range(1, len(rows) + 1)
    for key, sort in SORTS.items():
        field = {"created_at": "created_at", "latency_ms": "latency_ms",
                 "total_tokens": "prompt_tokens"}[sort.column.key]
        keyed = [(rows[i - 1][field], i) for i in ids if rows[i - 1][field] is not None]
        expected = [i for _value, i in sorted(keyed, reverse=sort.descending)]
        assert _all_pages(pg, CallFilter(), key) == expected, key

    def count(**fields: object) -> int:
        return count_calls(pg, CallFilter(**fields))

    assert count(model_versions=("alpha",)) == 20
    assert count(sources=("eval",)) == 15
    assert count(since=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=20)) == 20
    assert count(min_latency_ms=40.0) == sum(
        1 for r in rows if r["latency_ms"] is not None and r["latency_ms"] >= 40)
    assert count(max_tokens=5) == sum(1 for r in rows if r["prompt_tokens"] + 3 <= 5)
    assert count(errors_only=True) == 6
    assert count(meta_key="tier", meta_value="gold") == 30
    assert count(meta_key="n", meta_value="7") == 1  # numbers compare as their text
    assert count(meta_key="tier") == 60 and count(meta_key="absent") == 0
    assert count_by_version(pg, CallFilter(sources=("production",))) == [
        ("alpha", 15), ("beta", 15), ("gamma", 15)]
    assert count_by_version(pg, CallFilter(meta_key="tier", meta_value="free")) == [
        ("alpha", 10), ("beta", 10), ("gamma", 10)]


def test_plain_and_advanced_search(pg):
    add_calls(pg, _browse_rows() + [{"input": "Crème brûlée recipe", "output": "Pay by card"}])

    def found(query: str, advanced: bool = False) -> int:
        return count_calls(pg, CallFilter(search=query, advanced_search=advanced))

    assert found("refund") == 20 and found("REFUND Policy") == 20
    assert found("refund 12") == 1  # every word is required
    assert found("c++") == 1 and found('"; DROP TABLE calls; --') == 0  # any text is valid
    assert found("crème") == 1 and found("card") == 1
    assert found("refund OR card", advanced=True) == 21
    assert found("refund NOT question", advanced=True) == 0
    assert found('"refund policy"', advanced=True) == 20
    assert found('"policy refund"', advanced=True) == 0  # a phrase keeps its word order
    assert found("ref* AND (12 OR 15)", advanced=True) == 2
    assert found("answer 1*", advanced=True) == 11  # answers 1 and 10..19
    for bad in ("refund AND", "(refund", "refund)", '"refund', "OR refund"):
        with pg.connect() as conn, pytest.raises(SearchSyntaxError, match="(?i)advanced search"):
            validate_advanced_query(conn, bad)
        with pytest.raises(SearchSyntaxError):
            list_calls(pg, CallFilter(search=bad, advanced_search=True))
    with pg.connect() as conn:
        validate_advanced_query(conn, 'refund OR "C++"')
        conn.execute(text("ANALYZE calls"))
        conn.execute(text("SET enable_seqscan = off"))  # tiny table: show the index can serve
        plan = "\n".join(conn.execute(text("EXPLAIN " + str(page_query(
            conn, CallFilter(search="card")).compile(
                conn, compile_kwargs={"literal_binds": True})))).scalars())
    assert PG_FTS_INDEX in plan  # a rare word: its few matches looked up in the GIN index


def test_ids_versions_and_repeated_external_ids(pg):
    assert list(reserve_ids(pg, 10)) == list(range(1, 11))
    pool = IdPool(pg, block_size=3)
    taken = [pool.take() for _ in range(5)] + pool.take_many(4)
    assert len(set(taken)) == 9 and min(taken) > 10
    first = add_calls(pg, [{"input": "a", "external_id": "x-1", "model_version": "v1"}])
    again = add_calls(pg, [{"input": "b", "external_id": "x-1", "model_version": "v1"}])
    assert (first.inserted, again.inserted, again.already_present) == (1, 0, 1)
    with pg.begin() as conn:
        before = ensure_model_versions(conn, ["v1", "v2"])
        assert ensure_model_versions(conn, ["v2", "v1", "v3"]) == {**before, "v3": before["v2"] + 1}
        conn.execute(text("UPDATE id_blocks SET next_id = 1"))  # a restored copy's counter
    assert reserve_ids(pg, 2).start > max(matching_ids(pg, CallFilter()))


def test_nul_characters_are_stored_as_replacement_characters(pg, pg_url):
    nul = "before\x00after"
    add_calls(pg, [{"input": [{"role": "user", "content": nul}], "output": nul, "error": nul,
                    "metadata": {nul: nul, "list": [nul]}, "external_id": nul,
                    "session_id": nul}])
    with evalboard.connect(pg_url, mode="sync") as client:
        second = client.log_call(nul, nul, metadata={"k": nul})
    call = get_call(pg, 1)
    assert call is not None and get_call(pg, second) is not None
    clean = "before\ufffdafter"
    assert call.output == call.error == call.external_id == call.session_id == clean
    assert call.input_messages == [{"role": "user", "content": clean}]
    assert call.meta == {clean: clean, "list": [clean]}
    assert count_calls(pg, CallFilter(meta_key="k", meta_value=clean)) == 1
    assert count_calls(pg, CallFilter(search="after")) == 2


# ---------------------------------------------------------------- import/export, review, runs


def test_export_then_import_into_another_database(pg, pg_server, tmp_path):
    rows = _browse_rows()[:12]
    rows[0] = {**rows[0], "input": [{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": "Où est la gare ?"}]}
    add_calls(pg, rows)
    path = tmp_path / "calls.jsonl"
    assert export_calls(pg, path) == 12
    with fresh_database(pg_server) as other_url:
        other = open_store(other_url)
        summary = import_file(other, path)
        assert (summary.imported, summary.problems) == (12, [])
        again = import_file(other, path)  # idempotent
        assert (again.imported, again.already_present) == (0, 12)

        def without_ids(engine: Engine) -> list[dict[str, object]]:
            """The calls without their id (which the import keeps as the external id)."""
            return [{k: v for k, v in call.items() if k not in ("id", "external_id")}
                    for call in iter_calls(engine, CallFilter())]

        assert without_ids(other) == without_ids(pg)
        other.dispose()


def test_annotate_undo_and_a_replay_run(pg):
    add_calls(pg, [
        {"input": "What is the refund window?", "output": "14 days.", "model_version": "prod"},
        {"input": "Capital of France?", "output": "Lyon.", "model_version": "prod"},
    ])
    first = annotate(pg, 1, "ann", Judgement("pass", ("appropriate response",)))
    annotate(pg, 1, "ann", Judgement("fail", ("hallucination",), note="wrong"))
    assert undo_last(pg, "ann").retracted_ids != []
    view = current_judgement(pg, 1, "ann")
    assert view is not None and view.id == first

    for name, prompt, expected in (("refund", "What is the refund window?", "14 days"),
                                   ("capital", "Capital of France?", "Paris")):
        create_case(pg, "smoke", CaseDraft(name=name, input=prompt, checks=(
            CheckSpec("contains", {"value": expected}),)))
    summary = run_suite(pg, "smoke", "prod", None)
    assert (summary.generator, summary.status) == ("replay", "finished")
    assert (summary.passed, summary.failed, summary.missing) == (1, 1, [])


# ---------------------------------------------------------------- copy


def test_copy_sqlite_to_postgres_and_back_keeps_every_row_id_and_search(pg_url, tmp_path):
    source, back = (f"sqlite:///{tmp_path / name}" for name in ("source.db", "back.db"))
    engine = open_store(source)
    fill_store(engine)
    set_output = text("UPDATE calls SET output = :output WHERE id = 1")
    with engine.begin() as conn:  # a NUL stored before normalize_call replaced them
        conn.execute(set_output, {"output": "old\x00nul"})

    to_pg = copy_store(source, pg_url)
    with engine.begin() as conn:  # what the copy stores instead
        conn.execute(set_output, {"output": "old\ufffdnul"})
    original = store_rows(source)
    assert store_rows(pg_url) == original
    to_sqlite = copy_store(pg_url, back)
    assert store_rows(back) == original
    assert to_pg.rows == to_sqlite.rows == {name: len(rows) for name, rows in original.items()}
    assert search_results(pg_url) == search_results(source) == search_results(back)
    assert all(search_results(pg_url))

    pg = open_store(pg_url)  # sequences and the id counter continue after the copied ids
    add_calls(pg, [{"input": "logged after the copy", "model_version": "brand-new"}])
    annotate(pg, 1, "zoe", Judgement("pass"))
    with pg.connect() as conn:
        # ids are reserved in blocks: the new call's id follows every copied one
        assert conn.execute(select(func.max(Call.id))).scalar() > len(original["calls"])
        assert conn.execute(select(func.count(Call.id))).scalar() == len(original["calls"]) + 1
        assert conn.execute(select(func.max(ModelVersion.id))).scalar() == len(
            original["model_versions"]) + 1
    pg.dispose()
    engine.dispose()


# ---------------------------------------------------------------- concurrency

WRITERS, CALLS_PER_WRITER = 4, 25_000
WRITER = textwrap.dedent("""
    import sys
    import evalboard

    url, writer, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    eb = evalboard.connect(url, model_version=f"v{writer % 2}")  # batch mode: flushed at exit
    for i in range(count):
        eb.log_call(f"writer {writer} call {i}", f"answer {i % 500}", latency_ms=i % 997,
                    metadata={"writer": str(writer)})
""")
READER = textwrap.dedent("""
    import pathlib, sys
    from evalboard.store import open_store
    from evalboard.store.calls_counts import count_by_version, count_calls
    from evalboard.store.calls_pages import list_calls
    from evalboard.store.calls_query import CallFilter

    engine, stop, loops = open_store(sys.argv[1]), pathlib.Path(sys.argv[2]), 0
    while not stop.exists():
        page = list_calls(engine, CallFilter(model_versions=("v1",)))
        if page.next_cursor is not None:
            list_calls(engine, CallFilter(model_versions=("v1",)), after=page.next_cursor)
        list_calls(engine, CallFilter(search="answer 7"), "slowest")
        count_by_version(engine, CallFilter())
        count_calls(engine, CallFilter(meta_key="writer", meta_value="1"))
        loops += 1
    print(loops)
""")


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    with fresh_database(request.getfixturevalue("pg_server")) as url:
        yield url


@pytest.mark.slow
def test_four_logging_processes_and_a_reader_lose_nothing(shared_store, tmp_path):
    engine = open_store(shared_store)  # migrated once, before anyone logs
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, shared_store, str(stop)],
                              cwd=tmp_path, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    writers = [subprocess.Popen(
        [sys.executable, "-c", WRITER, shared_store, str(n), str(CALLS_PER_WRITER)],
        cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for n in range(WRITERS)]
    try:
        outcomes = [writer.communicate(timeout=300) for writer in writers]
    finally:
        stop.touch()
        loops, reader_errors = reader.communicate(timeout=120)
    for writer, (_out, err) in zip(writers, outcomes, strict=True):
        assert writer.returncode == 0 and err == "", err[-3000:]
    assert reader.returncode == 0 and reader_errors == "", reader_errors[-3000:]
    assert int(loops) > 0
    assert not list(tmp_path.glob("evalboard-unwritten-*"))  # no dead letters

    with engine.connect() as conn:
        total, distinct = conn.execute(
            select(func.count(), func.count(func.distinct(Call.input_text)))).one()
    assert total == distinct == WRITERS * CALLS_PER_WRITER
    assert count_calls(engine, CallFilter(meta_key="writer", meta_value="3")) == CALLS_PER_WRITER
    engine.dispose()
