"""What the logging client costs and what it can lose: `python -m bench.bench_client`.

- loss: a child process logs calls as fast as it can (printing every id `log_call` returned)
  and is stopped with SIGTERM or SIGKILL mid-stream; accepted ids minus stored ids is what was
  lost (the store is opened again first, so a durable client replays its spool);
- cost: `log_call` as the caller sees it (p50, p99, mean) and the time until every call is
  written (`flush()`), per mode, in this process;
- locked: `log_call` latency in batch mode while another connection holds the SQLite write
  lock (BEGIN IMMEDIATE) for a few seconds, and whether every call landed afterwards.

Figures go to stdout and bench/results/client.json. Runs on SQLite files in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import evalboard

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGE_ROOT = Path(evalboard.__file__).resolve().parent.parent  # children import the same code
MODES = ("sync", "batch", "durable")

CHILD = textwrap.dedent("""
    import os, sys, evalboard
    eb = evalboard.connect(sys.argv[1], mode=sys.argv[2], model_version="bench")
    os.write(1, b"ready\\n")
    i = 0
    while True:
        call_id = eb.log_call(f"prompt {i}", "output", latency_ms=12.5, metadata={"i": i})
        os.write(1, b"%d\\n" % call_id)
        i += 1
""")


def supported_modes() -> list[str]:
    """The modes this evalboard offers (an older one has no durable mode)."""
    with tempfile.TemporaryDirectory() as folder:
        modes = []
        for mode in MODES:
            try:
                evalboard.connect(f"sqlite:///{folder}/probe.db", mode=mode).close()
            except ValueError:
                continue
            modes.append(mode)
        return modes


def stored_ids(url: str, mode: str) -> list[int]:
    """Every call id in the store, after a client of `mode` opened it (durable: replayed)."""
    evalboard.connect(url, mode=mode).close()
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM calls")]


def lost_on_signal(mode: str, signum: int, accepted_before_signal: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/loss.db"
        env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
        child = subprocess.Popen([sys.executable, "-c", CHILD, url, mode], cwd=folder, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert child.stdout is not None and child.stderr is not None
        assert child.stdout.readline().strip() == b"ready"
        accepted: list[int] = []
        for line in child.stdout:
            accepted.append(int(line))
            if len(accepted) == accepted_before_signal:
                child.send_signal(signum)
                signalled = time.monotonic()
                break
        accepted.extend(int(line) for line in child.stdout if line.strip())
        child.wait(timeout=120)
        exit_s = time.monotonic() - signalled
        stderr = child.stderr.read().decode(errors="replace").strip()
        stored = stored_ids(url, mode)
    lost = len(set(accepted) - set(stored))
    return {"mode": mode, "signal": signal.Signals(signum).name, "accepted": len(accepted),
            "lost": lost, "duplicates": len(stored) - len(set(stored)),
            "exit_code": child.returncode, "exit_s": round(exit_s, 3),
            "stderr": stderr.splitlines()[-1] if stderr else ""}


def cost_per_call(mode: str, calls: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        client = evalboard.connect(f"sqlite:///{folder}/cost.db", mode=mode,
                                   model_version="bench")
        timings = []
        started = time.perf_counter()
        for i in range(calls):
            before = time.perf_counter()
            client.log_call(f"prompt {i}", "output", latency_ms=12.5, metadata={"i": i})
            timings.append(time.perf_counter() - before)
        client.flush()
        total = time.perf_counter() - started
        client.close()
    timings.sort()
    return {"mode": mode, "calls": calls,
            "p50_us": round(timings[len(timings) // 2] * 1e6, 1),
            "p99_us": round(timings[int(len(timings) * 0.99)] * 1e6, 1),
            "mean_us": round(statistics.fmean(timings) * 1e6, 1),
            "until_written_us_per_call": round(total / calls * 1e6, 1)}


def latency_under_write_lock(calls: int, hold_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/locked.db"
        started = time.perf_counter()
        client = evalboard.connect(f"sqlite:///{path}", model_version="bench")
        connect_s = time.perf_counter() - started
        locked, release = threading.Event(), threading.Event()

        def hold_lock() -> None:
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            locked.set()
            release.wait()
            conn.execute("COMMIT")
            conn.close()

        holder = threading.Thread(target=hold_lock)
        holder.start()
        locked.wait()
        timings, error = [], ""
        threading.Timer(hold_s, release.set).start()
        try:
            for i in range(calls):
                before = time.perf_counter()
                client.log_call(f"prompt {i}", "output")
                timings.append(time.perf_counter() - before)
            client.flush()
        except Exception as exc:  # noqa: BLE001 - the figure reports it
            error = f"{type(exc).__name__}: {exc}"
        release.set()
        holder.join()
        client.close()
        with sqlite3.connect(path) as conn:
            landed = conn.execute("SELECT count(*) FROM calls").fetchone()[0]
    first = timings[0] if timings else None
    timings.sort()
    return {"calls": calls, "hold_s": hold_s, "connect_ms": round(connect_s * 1e3, 1),
            "first_ms": round(first * 1e3, 2) if first is not None else None,
            "max_ms": round(timings[-1] * 1e3, 2) if timings else None,
            "p50_ms": round(timings[len(timings) // 2] * 1e3, 3) if timings else None,
            "landed": landed, "error": error}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="calls per cost measurement")
    parser.add_argument("--accepted", type=int, default=5_000,
                        help="calls a child logs before it is signalled")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode and signal")
    args = parser.parse_args()
    modes = supported_modes()
    loss = [lost_on_signal(mode, signum, args.accepted)
            for mode in modes for signum in (signal.SIGTERM, signal.SIGKILL)
            for _ in range(args.repeat)]
    print(f"{'mode':<9}{'signal':<9}{'accepted':>10}{'lost':>7}{'dupl.':>7}{'exit s':>8}  stderr")
    for row in loss:
        print(f"{row['mode']:<9}{row['signal']:<9}{row['accepted']:>10,}{row['lost']:>7,}"
              f"{row['duplicates']:>7}{row['exit_s']:>8.2f}  {row['stderr'][:70]}")
    cost = [cost_per_call(mode, args.calls if mode != "sync" else args.calls // 20)
            for mode in modes]
    print(f"\n{'mode':<9}{'calls':>8}{'p50 us':>9}{'p99 us':>9}{'mean us':>9}"
          f"{'us/call until written':>23}")
    for row in cost:
        print(f"{row['mode']:<9}{row['calls']:>8,}{row['p50_us']:>9}{row['p99_us']:>9}"
              f"{row['mean_us']:>9}{row['until_written_us_per_call']:>23}")
    locked = latency_under_write_lock(200, 3.0)
    print(f"\nbatch log_call while another connection holds the write lock for "
          f"{locked['hold_s']} s (connected before): first call "
          f"{locked['first_ms']} ms, max {locked['max_ms']} ms, p50 {locked['p50_ms']} ms; "
          f"{locked['landed']}/{locked['calls']} landed {locked['error']}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "client.json").write_text(
        json.dumps({"loss": loss, "cost": cost, "locked": locked}, indent=2))


if __name__ == "__main__":
    main()
