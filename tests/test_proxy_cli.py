"""`evalboard proxy` as a user runs it: a process in front of a fake upstream, stopped by
SIGTERM, with every call it forwarded written to the store by then."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import urllib.request

from sqlalchemy import select
from sqlalchemy.orm import Session

from evalboard.store.models import Call
from tests.support.fake_openai_upstream import ANSWER, FakeUpstream, running

EVALBOARD = shutil.which("evalboard") or "evalboard"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _post(url: str, payload: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(payload).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def test_proxy_command_logs_and_writes_everything_before_it_stops(engine, db_url):
    port = _free_port()
    with running(FakeUpstream()) as upstream:
        process = subprocess.Popen(
            [EVALBOARD, "proxy", "--upstream", upstream.url,
             "--model-version", "support-bot-v5", "--port", str(port), "--db", db_url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
        try:
            banner = process.stdout.readline()
            assert f"http://127.0.0.1:{port}/v1" in banner, process.stderr.read()
            for index in range(3):
                answer = _post(f"http://127.0.0.1:{port}/v1/completions",
                               {"model": "m", "prompt": f"p{index}"})
                assert answer["choices"][0]["text"] == ANSWER
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(20)
    assert process.returncode == 0, process.stderr.read()
    with Session(engine) as session:
        prompts = session.scalars(select(Call.input_text).order_by(Call.id)).all()
    assert prompts == ["p0", "p1", "p2"]


def test_proxy_command_refuses_a_bad_upstream_url(db_url):
    done = subprocess.run([EVALBOARD, "proxy", "--upstream", "localhost:8000",
                           "--model-version", "v", "--db", db_url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: the upstream must be an http:// or https:// URL, got 'localhost:8000'"]
