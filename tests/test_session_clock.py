"""The clock of a test session: `pytest --now` (or $EVALBOARD_TEST_NOW) anchors every test and
the servers they start; a `clock` mark anchors one test whose data has fixed dates."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from evalboard import clock
from tests.conftest import TEST_NOW_ENV

ROOT = Path(__file__).resolve().parents[1]
CHILD_NOW = [sys.executable, "-c", "from evalboard import clock; print(clock.now().isoformat())"]
LEAP_NIGHT = datetime(2028, 2, 29, 23, 59, 30)


@pytest.mark.clock(LEAP_NIGHT)
def test_a_clock_mark_anchors_the_test_and_the_processes_it_starts():
    assert timedelta(0) <= clock.now() - LEAP_NIGHT < timedelta(seconds=30)
    child = subprocess.run(CHILD_NOW, capture_output=True, text=True, check=True, cwd=ROOT)
    assert child.stdout.startswith("2028-02-29T23:59:")


@pytest.mark.clock("2027-01-01T00:30:00+01:00")
def test_a_marked_time_with_a_zone_is_read_as_utc():
    assert clock.now().isoformat().startswith("2026-12-31T23:30:")


def _inner_session(tmp_path: Path, now: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(
        "import os, subprocess, sys\n"
        "from evalboard import clock\n"
        "def test_inner():\n"
        "    assert clock.now().isoformat().startswith('2026-12-01T00:0')\n"
        f"    child = subprocess.run({CHILD_NOW!r}, capture_output=True, text=True)\n"
        "    assert child.stdout.startswith('2026-12-01T00:0'), child.stdout\n")
    env = {k: v for k, v in os.environ.items() if k != clock.NOW_ENV} | {TEST_NOW_ENV: now}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "-p", "tests.conftest", "--rootdir", str(tmp_path), str(tmp_path / "test_inner.py")],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


def test_the_session_clock_anchors_every_test_and_its_subprocesses(tmp_path):
    inner = _inner_session(tmp_path, "2026-12-01T00:05")
    assert inner.returncode == 0, inner.stdout + inner.stderr


def test_a_bad_session_clock_is_one_clear_error(tmp_path):
    inner = _inner_session(tmp_path, "first of december")
    assert inner.returncode != 0
    assert f"--now / ${TEST_NOW_ENV}: not an ISO 8601 date or time" in inner.stdout + inner.stderr
