"""`evalboard judge list|create|run|align` against the fake OpenAI-compatible server."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from evalboard.cli.main import app
from evalboard.judges.repository import get_version
from tests.support.fake_openai import FAIL, PASS, fake_openai
from tests.support.judge_stores import labelled_calls

EVALBOARD = shutil.which("evalboard")


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_create_run_list_and_align_from_the_command_line(engine, db_url, monkeypatch) -> None:
    ids = labelled_calls(engine, [("fail", ["hallucination"])] * 4 + [("pass", [])] * 4)
    assert "suggested ones: hallucination" in _invoke("judge", "list")
    failing = {f"answer number {i}" for i in range(4)}

    def answer(body):  # type: ignore[no-untyped-def]
        prompt = body["messages"][-1]["content"]
        judged = prompt.split("Output to judge:")[-1]
        return FAIL if any(f"{o}\n" in judged for o in failing) else PASS

    with fake_openai(answer=answer) as server:
        created = _invoke("judge", "create", "hallucination", "--base-url", server.url,
                          "--model", "m", "--api-key-env", "JUDGE_KEY")
        assert created.startswith("created hallucination@1 (m at http://127.0.0.1:")
        monkeypatch.setenv("JUDGE_KEY", "k")
        ran = _invoke("judge", "run", "hallucination", "--limit", "5")
        assert "judged 5 calls (0 from the cache, 5 backend calls, 0 errors); 3 left" in ran
        ran = _invoke("judge", "run", "hallucination")
        assert "judged 3 calls" in ran and "0 left" in ran
        assert "8 calls judged by both, κ 1.00, precision 1.00, recall 1.00" in ran
        assert "trusted (κ 1.00)" in _invoke("judge", "list")
        aligned = _invoke("judge", "align", "hallucination", "--examples", "2", "--seed", "1")
        assert {h["authorization"] for h in server.headers_seen} == {"Bearer k"}
    assert aligned.startswith("hallucination@2: 2 examples, evaluated on 4 held-out calls")
    assert "before  hallucination@1: 4 calls judged by both, κ 1.00" in aligned
    assert "after   hallucination@2: 4 calls judged by both" in aligned
    assert len(get_version(engine, "hallucination").definition.examples) == 2
    assert len(ids) == 8


@pytest.mark.skipif(EVALBOARD is None, reason="the evalboard script is not installed")
def test_a_judge_that_does_not_exist_is_one_line(engine, db_url, tmp_path) -> None:
    done = subprocess.run([EVALBOARD, "judge", "run", "nope"], cwd=tmp_path, text=True,
                          capture_output=True, timeout=120,
                          env={**os.environ, "EVALBOARD_DB_URL": db_url})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("error: judge: there is no judge 'nope'; create one in "
                                   "Settings or with evalboard judge create")
