"""The logging client under failure: a writer that never dies, bounded flush and exit, SIGTERM,
kill -9 in durable mode, a locked store, repeated external ids, dead letters beside the store."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import evalboard
from evalboard.client import connection as client_module
from evalboard.client.writer import BatchWriter, FlushTimeout, WriteError
from evalboard.store.calls_counts import count_calls
from evalboard.store.calls_query import get_call
from evalboard.store.models import Call
from tests.support.marks import sqlite_only


class Unexpected(Exception):
    """An exception type no writer lists."""


class Fatalish(BaseException):
    """Not even an Exception: what a driver or a C extension may raise."""


def within(seconds: float, action: Callable[[], Any]) -> Any:
    """Run `action` in a thread; fail (instead of hanging the suite) if it takes longer."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = action()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def test_any_exception_in_a_batch_is_bisected_to_its_rows_and_the_thread_lives(tmp_path):
    written: list[int] = []

    def write(batch):
        numbers = [row["n"] for row in batch]
        if 3 in numbers:
            raise Unexpected("row 3 breaks the driver")
        if 7 in numbers:
            raise Fatalish("row 7 is worse")
        written.extend(numbers)

    letter = tmp_path / "dead.jsonl"
    writer = BatchWriter(write, batch_size=10, flush_interval=0.01, dead_letter=letter)
    for n in range(10):
        writer.put({"n": n})
    with pytest.raises(WriteError) as info:
        within(10, writer.flush)
    assert sorted(row["n"] for row in info.value.rows) == [3, 7]
    assert sorted(json.loads(line)["n"] for line in letter.read_text().splitlines()) == [3, 7]
    for n in range(10, 20):  # the thread is alive: later rows land
        writer.put({"n": n})
    within(10, writer.close)
    assert sorted(written) == [n for n in range(20) if n not in (3, 7)]


def test_flush_waits_a_bounded_time_then_says_how_many_are_pending():
    gate = threading.Event()
    written: list[int] = []

    def blocked(batch):
        gate.wait()
        written.extend(row["n"] for row in batch)

    writer = BatchWriter(blocked, flush_interval=0.01, flush_timeout=0.3)
    for n in range(5):
        writer.put({"n": n})
    started = time.monotonic()
    with pytest.raises(FlushTimeout) as info:
        within(5, writer.flush)
    assert time.monotonic() - started < 2
    assert info.value.pending == 5
    assert "5 call(s) not written: no write finished for 0.3 s" in str(info.value)
    gate.set()
    within(5, writer.close)
    assert written == list(range(5))


def test_a_slow_store_that_makes_progress_is_waited_for():
    """flush_timeout bounds the wait without progress, not the whole flush."""
    def slow(batch):
        time.sleep(0.15)

    writer = BatchWriter(slow, batch_size=10, flush_interval=0.01, flush_timeout=0.5)
    for n in range(60):  # six batches: ~0.9 s in all, never 0.5 s without one finishing
        writer.put({"n": n})
    within(10, writer.flush)
    assert writer.pending == 0
    within(5, writer.close)


def child(script: str, db_url: str, cwd: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), db_url, *args],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_exit_with_a_blocked_store_is_bounded_and_says_what_it_could_not_write(
        db_url, engine, tmp_path):
    script = """
        import sys, threading, evalboard, evalboard.client.connection
        evalboard.client.connection.write_calls = lambda *args, **kwargs: threading.Event().wait()
        eb = evalboard.connect(sys.argv[1], flush_timeout=1.0)
        for i in range(3):
            eb.log_call(f"call {i}", "o")
        print("logged", flush=True)
    """  # the script ends without flush or close: interpreter exit must not hang
    started = time.monotonic()
    process = child(script, db_url, tmp_path)
    out, err = process.communicate(timeout=60)
    assert time.monotonic() - started < 20
    assert out.decode().strip() == "logged"
    assert "3 call(s) not written: no write finished for 1 s" in err.decode()
    letters = [*tmp_path.glob("evalboard-unwritten-*.jsonl")]
    assert len(letters) == 1 and len(letters[0].read_text().splitlines()) == 3


SIGNALLED = """
    import os, signal, sys, time, evalboard
    {before}
    eb = evalboard.connect(sys.argv[1], flush_interval=30, batch_size=100_000)
    for i in range(3000):
        eb.log_call(f"call {{i}}", "o")
    try:  # "logged" inside the try: a signal right after it must still land in the block
        print("logged", flush=True)
        time.sleep(60)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
"""


def test_sigterm_writes_every_pending_call_then_ends_the_process(db_url, engine, tmp_path):
    process = child(SIGNALLED.format(before=""), db_url, tmp_path)
    assert process.stdout.readline().strip() == b"logged"
    assert count_calls(engine) == 0  # all pending: a 30 s flush interval
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == -signal.SIGTERM  # ends as by the default action
    assert count_calls(engine) == 3000


def test_sigterm_chains_to_the_apps_own_handler_and_sigint_still_interrupts(
        db_url, engine, tmp_path):
    before = """
    def on_term(signum, frame):
        print("app handler", flush=True)
        sys.exit(3)
    signal.signal(signal.SIGTERM, on_term)
    """
    process = child(SIGNALLED.format(before=textwrap.indent(textwrap.dedent(before), "    ")),
                    db_url, tmp_path)
    assert process.stdout.readline().strip() == b"logged"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 3
    assert process.stdout.read().decode().split() == ["app", "handler"]
    assert count_calls(engine) == 3000

    process = child(SIGNALLED.format(before=""), db_url, tmp_path)
    assert process.stdout.readline().strip() == b"logged"
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    assert process.stdout.read().decode().strip() == "interrupted"
    assert count_calls(engine) == 6000


DURABLE = """
    import json, os, sys, evalboard
    eb = evalboard.connect(sys.argv[1], mode="durable", **json.loads(sys.argv[2]))
    i = 0
    while True:
        call_id = eb.log_call(f"call {i}", "o", metadata={"i": i})
        os.write(1, b"%d\\n" % call_id)
        i += 1
"""


def test_durable_mode_loses_nothing_on_kill_9_and_replays_once(
        db_url, engine, tmp_path, monkeypatch):
    """The first child writes nothing before it is killed (every call only in its spool); the
    second replays that spool, logs and writes as usual and is killed with calls both stored
    and still in its spool; the next durable start stores every accepted call exactly once."""
    monkeypatch.chdir(tmp_path)  # a server store's spool is in the working directory
    accepted: list[int] = []
    holding = json.dumps({"flush_interval": 30, "batch_size": 100_000})
    for options, kill_at in ((holding, 4000), ("{}", 12_000)):
        process = child(DURABLE, db_url, tmp_path, options)
        for line in process.stdout:
            accepted.append(int(line))
            if len(accepted) == kill_at:
                process.send_signal(signal.SIGKILL)
                break
        accepted.extend(int(line) for line in process.stdout if line.strip())
        assert process.wait(timeout=60) == -signal.SIGKILL
        if options == holding:
            assert count_calls(engine) == 0  # nothing was written, all only spooled
    evalboard.connect(db_url, mode="durable").close()  # replays what the second child spooled
    with engine.connect() as conn:
        ids = conn.scalars(select(Call.id)).all()
    assert set(accepted) <= set(ids)  # every accepted call (ids are unique: each once)
    # a kill between log_call's return and the child printing the id: stored, not counted here
    assert len(ids) - len(set(accepted)) <= 2
    assert [*client_module.default_spool_dir(engine).iterdir()] == []  # nothing left to replay
    evalboard.connect(db_url, mode="durable").close()
    assert count_calls(engine) == len(ids)


@sqlite_only
def test_log_call_does_not_wait_for_a_store_another_process_has_locked(db_url, engine):
    eb = evalboard.connect(db_url)
    lock = sqlite3.connect(engine.url.database, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        slowest = 0.0
        for i in range(300):
            started = time.perf_counter()
            eb.log_call(f"call {i}", "o")
            slowest = max(slowest, time.perf_counter() - started)
        time.sleep(1.5)  # the writer waits for the lock meanwhile
        assert count_calls(engine) == 0
    finally:
        lock.execute("COMMIT")
        lock.close()
    assert slowest < 0.05
    eb.flush()
    assert count_calls(engine) == 300
    eb.close()


def test_an_external_id_stored_already_gives_the_stored_calls_id(db_url, engine):
    with evalboard.connect(db_url, mode="sync") as eb:
        first = eb.log_call("q", "o", external_id="req-1")
        again = eb.log_call("q", "o", external_id="req-1")
    assert again == first and get_call(engine, again) is not None
    with evalboard.connect(db_url) as eb:
        later = eb.log_call("q", "o", external_id="req-1")
        twice = [eb.log_call("r", "o", external_id="req-2") for _ in range(2)]
        fresh = eb.log_call("s", "o")
        assert eb.stored_id(later) == first
        assert [eb.stored_id(call_id) for call_id in twice] == [twice[0], twice[0]]
        assert eb.stored_id(fresh) == fresh
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Call)) == 3


@sqlite_only
def test_dead_letters_go_beside_the_store(tmp_path, monkeypatch):
    store, elsewhere = tmp_path / "store", tmp_path / "elsewhere"
    store.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    real_write = client_module.write_calls

    def refuse_bad(engine, rows, ids, **options):
        if any(row["input_text"] == "bad" for row in rows):
            raise ValueError("refused by the store")
        return real_write(engine, rows, ids, **options)

    monkeypatch.setattr(client_module, "write_calls", refuse_bad)
    with evalboard.connect(f"sqlite:///{store / 'evalboard.db'}") as eb:
        eb.log_call("good", "o")
        eb.log_call("bad", "o")
        with pytest.raises(WriteError) as info:
            eb.flush()
    assert info.value.dead_letter.parent == store
    assert [json.loads(line)["input_text"] for line in
            info.value.dead_letter.read_text().splitlines()] == ["bad"]
    assert [*elsewhere.iterdir()] == []


def test_spool_segments_are_deleted_once_settled_and_a_torn_line_is_skipped(tmp_path, caplog):
    from evalboard.client.spool import Spool, orphaned_spools

    def row(call_id: int) -> dict[str, Any]:
        return {"id": call_id, "created_at": datetime(2026, 11, 1), "input_text": "q"}

    spool = Spool(tmp_path, segment_rows=3)
    for call_id in range(1, 8):  # segments 0 (1-3), 1 (4-6), 2 (7)
        spool.append(row(call_id))
    spool.sync()
    assert len([*tmp_path.glob("*.jsonl")]) == 3
    spool.settled([row(i) for i in (1, 2, 3, 7)])
    assert len([*tmp_path.glob("*.jsonl")]) == 2  # segment 0 emptied; 2 is still current
    assert [*orphaned_spools(tmp_path)] == []  # its process is alive: not replayed
    spool.close()  # 4-6 are pending: the files stay for the next durable start
    with next(tmp_path.glob("*-2.jsonl")).open("ab") as last:
        last.write(b'{"id": 8, "created_at": "2026-1')  # torn by a power loss
    [(rows, files)] = [*orphaned_spools(tmp_path)]
    assert [r["id"] for r in rows] == [4, 5, 6, 7]
    assert rows[0]["created_at"] == datetime(2026, 11, 1)
    assert "skipped line 2" in caplog.text
    assert sorted(path.suffix for path in files) == [".jsonl", ".jsonl", ".lock"]
