"""`evalboard collect` run for real: the SDK exporter sends to it, Ctrl+C stops it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult
from sqlalchemy import func, select

from evalboard.store.models import Call
from tests.support.otlp import export_to, make_spans

EVALBOARD = shutil.which("evalboard")
pytestmark = pytest.mark.skipif(EVALBOARD is None, reason="the evalboard script is not installed")
LLM = {"attributes": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "base",
                      "input.value": "hi", "output.value": "hello"}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_collect_stores_what_an_exporter_sends_and_stops_on_ctrl_c(engine, db_url, tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [EVALBOARD, "collect", "--port", str(port), "--model-version-from", "service.version",
         "--db", db_url], cwd=tmp_path, env=dict(os.environ), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/v1/traces" in banner, process.stderr.read()
        result = export_to(f"http://127.0.0.1:{port}/v1/traces", make_spans(LLM, LLM))
        assert result == SpanExportResult.SUCCESS
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "'stored': 2" in out
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Call)) == 2


@pytest.mark.parametrize(("option", "value"), [("--ack", "never"), ("--source", "prod")])
def test_collect_refuses_a_bad_option_in_one_line(db_url, tmp_path, option, value):
    done = subprocess.run([EVALBOARD, "collect", option, value, "--db", db_url], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: ") and option in done.stderr
    assert "Traceback" not in done.stderr
