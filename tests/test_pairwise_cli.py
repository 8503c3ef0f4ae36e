"""`evalboard pairing`: the pairing report on the command line."""

from __future__ import annotations

from typer.testing import CliRunner

from evalboard.cli.main import app
from tests.support.calls import add_calls


def test_pairing_lists_shared_inputs_per_pair_of_versions(engine, db_url):
    add_calls(engine, [{"input": f"q{i}", "model_version": v, "source": "eval"}
                       for i in range(3) for v in ("base", "tuned-v1")]
              + [{"input": "q0", "model_version": "tuned-v2"}])
    result = CliRunner().invoke(app, ["pairing", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["base      tuned-v1  3", "base      tuned-v2  1",
                                          "tuned-v1  tuned-v2  1"]
    only_eval = CliRunner().invoke(app, ["pairing", "--source", "eval", "--db", db_url])
    assert only_eval.output.splitlines() == ["base  tuned-v1  3"]
    wrong = CliRunner().invoke(app, ["pairing", "--source", "prod", "--db", db_url])
    assert wrong.exit_code != 0 and "unknown source(s) prod" in str(wrong.exception)
