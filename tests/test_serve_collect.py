"""`evalboard serve --collect`: the OTLP receiver runs beside the dashboard, starts and stops
with it, and never fails silently (a taken port is one line; a receiver that stops serving
stops the dashboard too, with a clean exit)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest
import typer
from opentelemetry.sdk.trace.export import SpanExportResult
from sqlalchemy import func, select

from evalboard.cli.common import CLIError
from evalboard.store.models import Call
from tests.support.otlp import export_to, make_spans

EVALBOARD = shutil.which("evalboard")
needs_script = pytest.mark.skipif(EVALBOARD is None, reason="the evalboard script is not installed")
LLM = {"attributes": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "base",
                      "input.value": "hi", "output.value": "hello"}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def call_count(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Call))


@needs_script
@pytest.mark.parametrize("stop", ["SIGTERM", "Ctrl+C"])
def test_the_dashboard_answers_an_export_lands_and_a_stop_ends_both(engine, db_url, tmp_path,
                                                                   stop):
    port, collect_port = free_port(), free_port()
    process = subprocess.Popen(
        [EVALBOARD, "serve", "--port", str(port), "--collect", "--collect-port",
         str(collect_port), "--db", db_url], cwd=tmp_path, env=dict(os.environ), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert f"http://127.0.0.1:{collect_port}/v1/traces" in banner, process.stderr.read()
        spans = make_spans(LLM, LLM)
        result = export_to(f"http://127.0.0.1:{collect_port}/v1/traces", spans)
        assert result == SpanExportResult.SUCCESS
        assert call_count(engine) == 2  # acknowledged once stored
        assert wait_for(lambda: answers(f"http://127.0.0.1:{port}/_stcore/health"), 90)
    finally:
        if stop == "SIGTERM":
            process.terminate()
        else:  # a terminal's Ctrl+C reaches the whole process group
            os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert not listening(collect_port)
    assert wait_for(lambda: not listening(port), 10)  # the dashboard's process is gone too


@needs_script
def test_a_taken_collect_port_is_one_line_and_no_dashboard(db_url, tmp_path):
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        collect_port = taken.getsockname()[1]
        done = subprocess.run(
            [EVALBOARD, "serve", "--port", str(port), "--collect", "--collect-port",
             str(collect_port), "--db", db_url], cwd=tmp_path, capture_output=True, text=True,
            timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: the OTLP receiver cannot listen on 127.0.0.1:{collect_port}: "
        "Address already in use"]
    assert not listening(port)


def test_a_receiver_that_stops_serving_stops_the_dashboard_and_says_why(db_url, monkeypatch):
    from evalboard.cli import serve_command
    from evalboard.ingest.otlp_server import OtlpServer

    def broken_serve_forever(self, poll_interval: float = 0.5) -> None:
        raise OSError("the listening socket went away")

    ran: dict[str, float] = {}

    def dashboard(command: list[str], env: dict[str, str]) -> int:
        started = time.monotonic()
        try:
            time.sleep(30)  # the dashboard runs until the receiver's failure stops serve
        finally:
            ran["seconds"] = time.monotonic() - started
        return 0

    monkeypatch.setattr(OtlpServer, "serve_forever", broken_serve_forever)
    monkeypatch.setattr(serve_command.subprocess, "call", dashboard)
    collect_port = free_port()
    handler_before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(CLIError) as failed:
        serve_command.serve_command(port=free_port(), host="127.0.0.1", db=db_url,
                                    monitors=False, collect=True, collect_port=collect_port)
    assert ran.get("seconds", 0) < 10  # (the failure may come before the dashboard starts)
    assert str(failed.value) == (
        "the OTLP receiver stopped (OSError: the listening socket went away); the dashboard "
        "was stopped with it")
    assert not listening(collect_port)
    assert signal.getsignal(signal.SIGTERM) == handler_before  # the handlers are restored


@pytest.mark.parametrize("collect", [True, False])
def test_the_receiver_runs_only_with_collect_and_stops_with_serve(engine, db_url, monkeypatch,
                                                                  collect):
    from evalboard.cli import serve_command

    collect_port = free_port()
    seen: dict[str, object] = {}

    def dashboard(command: list[str], env: dict[str, str]) -> int:
        seen["threads"] = [thread.name for thread in threading.enumerate()]
        if collect:
            seen["export"] = export_to(f"http://127.0.0.1:{collect_port}/v1/traces",
                                       make_spans(LLM))
        return 3  # the dashboard's exit status is serve's

    monkeypatch.setattr(serve_command.subprocess, "call", dashboard)
    with pytest.raises(typer.Exit) as exited:
        serve_command.serve_command(port=free_port(), host="127.0.0.1", db=db_url,
                                    monitors=False, collect=collect, collect_port=collect_port)
    assert exited.value.exit_code == 3
    assert ("evalboard-otlp" in seen["threads"]) is collect
    assert seen.get("export") == (SpanExportResult.SUCCESS if collect else None)
    assert call_count(engine) == int(collect)
    assert "evalboard-otlp" not in [thread.name for thread in threading.enumerate()]
    assert not listening(collect_port)
