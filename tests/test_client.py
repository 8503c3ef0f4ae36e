"""The logging client: sync and batch modes, decorator, context manager, nothing lost."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import text

import evalboard
from evalboard.client.writer import BatchWriter, WriteError
from evalboard.store.calls_counts import count_calls
from evalboard.store.calls_query import CallFilter, get_call
from tests.support.marks import sqlite_only


def test_sync_log_call_returns_the_stored_id(db_url, engine):
    eb = evalboard.connect(db_url, mode="sync", model_version="v1")
    call_id = eb.log_call("What is 2+2?", "4", latency_ms=12.5, prompt_tokens=5,
                          completion_tokens=1, metadata={"user": "u1"}, session_id="s1")
    call = get_call(engine, call_id)
    assert call is not None
    assert (call.input_text, call.output, call.model_version.name) == ("What is 2+2?", "4", "v1")
    assert (call.latency_ms, call.total_tokens, call.meta) == (12.5, 6, {"user": "u1"})
    assert call.session_id == "s1" and call.source == "production"
    eb.close()


def test_ids_grow_with_time_within_a_writer(db_url):
    with evalboard.connect(db_url, mode="sync") as eb:
        ids = [eb.log_call(f"p{i}", "o") for i in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5


def test_batch_mode_returns_ids_at_once_and_flush_writes_them(db_url, engine):
    eb = evalboard.connect(db_url, model_version="v2", flush_interval=5.0)
    ids = [eb.log_call(f"prompt {i}", f"out {i}") for i in range(1200)]
    eb.flush()
    assert count_calls(engine) == 1200
    assert get_call(engine, ids[-1]).input_text == "prompt 1199"
    eb.close()


def test_validation_errors_reach_the_caller(db_url):
    with evalboard.connect(db_url) as eb, pytest.raises(evalboard.CallValidationError):
        eb.log_call(input=None)


def test_record_captures_latency_tokens_and_exceptions(db_url, engine):
    eb = evalboard.connect(db_url, mode="sync", model_version="v1")
    with eb.record("hello", metadata={"k": 1}) as rec:
        rec.output = "world"
        rec.completion_tokens = 1
    call = get_call(engine, rec.id)
    assert call.output == "world" and call.latency_ms > 0 and call.meta == {"k": 1}
    with pytest.raises(ZeroDivisionError), eb.record("divide") as failed:
        1 / 0  # noqa: B018
    call = get_call(engine, failed.id)
    assert call.error.startswith("ZeroDivisionError") and call.output is None
    eb.close()


def test_trace_decorator_logs_prompts_messages_and_errors(db_url, engine):
    eb = evalboard.connect(db_url, mode="sync")

    @eb.trace(model_version="traced")
    def generate(prompt, temperature=0.0):
        if prompt == "fail":
            raise RuntimeError("model crashed")
        return prompt.upper() if isinstance(prompt, str) else {"reply": "hi"}

    assert generate("abc") == "ABC"
    assert generate([{"role": "user", "content": "hey"}]) == {"reply": "hi"}
    with pytest.raises(RuntimeError):
        generate("fail")
    calls = [get_call(engine, i) for i in (1, 2, 3)]
    assert [c.output for c in calls] == ["ABC", '{"reply": "hi"}', None]
    assert calls[1].input_messages == [{"role": "user", "content": "hey"}]
    assert calls[2].error == "RuntimeError: model crashed"
    assert {c.model_version.name for c in calls} == {"traced"}
    eb.close()


@sqlite_only
def test_four_threads_and_process_exit_lose_nothing(db_url, engine):
    """4 threads log 10k calls each; the process exits without flush or close."""
    script = textwrap.dedent(f"""
        import threading, evalboard
        eb = evalboard.connect({db_url!r}, max_pending=2000)
        def work(n):
            for i in range(10_000):
                eb.log_call(f"thread {{n}} call {{i}}", "out", metadata={{"n": n}})
        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    assert count_calls(engine) == 40_000
    with engine.connect() as conn:
        distinct = conn.execute(text("SELECT count(DISTINCT input_text) FROM calls")).scalar()
        per_thread = conn.execute(text(
            "SELECT json_extract(metadata, '$.n'), count(*) FROM calls GROUP BY 1 ORDER BY 1"
        )).all()
    assert distinct == 40_000
    assert [tuple(r) for r in per_thread] == [(n, 10_000) for n in range(4)]
    assert count_calls(engine, CallFilter(search="thread 3 call 9999")) >= 1


def test_back_pressure_blocks_instead_of_dropping():
    written: list[int] = []
    import threading

    gate = threading.Event()

    def slow_write(batch):
        gate.wait()
        written.extend(row["n"] for row in batch)

    writer = BatchWriter(slow_write, batch_size=2, flush_interval=0.01, max_pending=3)
    producer = threading.Thread(target=lambda: [writer.put({"n": i}) for i in range(20)])
    producer.start()
    producer.join(timeout=0.5)
    assert producer.is_alive()  # the queue is full: the caller waits
    gate.set()
    producer.join(timeout=5)
    writer.close()
    assert sorted(written) == list(range(20))


def test_rows_that_cannot_be_written_are_reported_and_kept(tmp_path):
    def write(batch):
        if any(row["n"] == 3 for row in batch):
            raise ValueError("row 3 is bad")

    letter = tmp_path / "dead.jsonl"
    writer = BatchWriter(write, batch_size=10, flush_interval=0.01, dead_letter=letter)
    for i in range(6):
        writer.put({"n": i})
    with pytest.raises(WriteError) as info:
        writer.flush()
    assert [row["n"] for row in info.value.rows] == [3]
    assert letter.read_text().strip() == '{"n": 3}'
    writer.close()
