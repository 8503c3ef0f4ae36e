"""Exports of review work: corrected outputs as SFT examples, annotations as CSV/JSONL rows."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from evalboard.cli.common import CLIError
from evalboard.cli.main import app
from evalboard.review.annotations import (
    Judgement,
    annotate,
    bulk_annotate,
    call_history,
    record_skip,
    undo_last,
)
from evalboard.review.exports import (
    ANNOTATION_COLUMNS,
    export_annotations,
    iter_annotation_rows,
    iter_sft_examples,
    write_annotations_csv,
    write_sft_jsonl,
)
from evalboard.store.calls_query import CallFilter, iter_calls
from evalboard.teams.adjudication import adjudicate
from evalboard.teams.scores import create_score_config
from tests.support.calls import T0, add_calls

EVALBOARD = shutil.which("evalboard")

SYSTEM = {"role": "system", "content": "You are terse."}
CHAT = [SYSTEM, {"role": "user", "content": "Capital of France?"}]
ENDS_WITH_ASSISTANT = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hel"}]


def correction(text: str, verdict: str = "fail", *labels: str) -> Judgement:
    return Judgement(verdict, labels=labels, corrected_output=text)


PASS = Judgement("pass")


@pytest.fixture
def calls(engine) -> dict[str, int]:
    """Call ids by name: chat/plain/partial on v1 (minutes 0-2), two plain calls on v2 (3-4)."""
    rows = [
        {"external_id": "chat", "input": CHAT, "output": "Lyon.", "model_version": "v1"},
        {"external_id": "plain", "input": "2+2?", "output": "5", "model_version": "v1"},
        {"external_id": "partial", "input": ENDS_WITH_ASSISTANT, "output": "lo",
         "model_version": "v1"},
        {"external_id": "good", "input": "Say hi", "output": "hi", "model_version": "v2"},
        {"external_id": "split", "input": "Say bye", "output": "bye", "model_version": "v2"},
    ]
    add_calls(engine, [{**row, "created_at": T0 + timedelta(minutes=i)}
                       for i, row in enumerate(rows)])
    return {c["external_id"]: c["id"] for c in iter_calls(engine, CallFilter())}


def sft(engine, **filters) -> list[dict]:
    return list(iter_sft_examples(engine, **filters))


def answers(engine, **filters) -> dict[int, tuple[str, str]]:
    """call id -> (assistant answer, reviewer) of each exported example."""
    return {e["metadata"]["call_id"]: (e["messages"][-1]["content"], e["metadata"]["reviewer"])
            for e in sft(engine, **filters)}


def test_sft_examples_have_the_chat_shape_with_the_correction_last(engine, calls):
    chat_id = annotate(engine, calls["chat"], "ana",
                       correction("Paris.", "fail", "hallucination", "wrong format"))
    annotate(engine, calls["plain"], "ana", correction("4", "unsure"))
    annotate(engine, calls["partial"], "ana", correction("Hello!", "fail"))
    annotate(engine, calls["good"], "ana", PASS)  # no correction: not an example by default

    examples = sft(engine)

    annotated_at = call_history(engine, calls["chat"])[0].created_at.isoformat()
    assert examples[0] == {
        "messages": [*CHAT, {"role": "assistant", "content": "Paris."}],
        "metadata": {"call_id": calls["chat"], "annotation_id": chat_id, "model_version": "v1",
                     "reviewer": "ana", "labels": ["hallucination", "wrong format"],
                     "verdict": "fail", "annotated_at": annotated_at},
    }
    assert [e["messages"] for e in examples[1:]] == [
        [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
        [*ENDS_WITH_ASSISTANT, {"role": "assistant", "content": "Hello!"}],
    ]
    assert [e["metadata"]["verdict"] for e in examples] == ["fail", "unsure", "fail"]
    out = io.StringIO()
    assert write_sft_jsonl(iter(examples), out) == 3
    assert [json.loads(line) for line in out.getvalue().splitlines()] == examples


def test_a_retracted_or_replaced_correction_is_not_exported(engine, calls):
    annotate(engine, calls["plain"], "ana", correction("four"))
    annotate(engine, calls["plain"], "ana", correction("4"))
    assert answers(engine) == {calls["plain"]: ("4", "ana")}

    undo_last(engine, "ana")  # the previous correction is current again
    assert answers(engine) == {calls["plain"]: ("four", "ana")}

    annotate(engine, calls["plain"], "ana", PASS)  # newer judgement without a correction
    assert answers(engine) == {}
    undo_last(engine, "ana")
    undo_last(engine, "ana")
    assert answers(engine) == {}  # every correction retracted


def test_the_newest_correction_wins_across_reviewers(engine, calls):
    annotate(engine, calls["plain"], "ana", correction("4 (ana)"))
    annotate(engine, calls["plain"], "bob", correction("4 (bob)"))
    assert answers(engine) == {calls["plain"]: ("4 (bob)", "bob")}
    assert answers(engine, reviewer="ana") == {calls["plain"]: ("4 (ana)", "ana")}

    annotate(engine, calls["plain"], "bob", Judgement("fail", note="no idea after all"))
    assert answers(engine) == {calls["plain"]: ("4 (ana)", "ana")}
    assert answers(engine, reviewer="bob") == {}


def test_include_passing_adds_unanimous_passes_with_the_models_output(engine, calls):
    annotate(engine, calls["plain"], "ana", correction("4"))
    bulk_annotate(engine, [calls["good"], calls["split"]], "ana", PASS)
    annotate(engine, calls["split"], "bob", Judgement("fail"))  # contested: no positive example

    assert answers(engine) == {calls["plain"]: ("4", "ana")}
    passing = sft(engine, include_passing=True)
    assert [e["metadata"]["call_id"] for e in passing] == [calls["plain"], calls["good"]]
    assert passing[1]["messages"] == [{"role": "user", "content": "Say hi"},
                                      {"role": "assistant", "content": "hi"}]
    assert passing[1]["metadata"]["verdict"] == "pass"
    assert set(answers(engine, include_passing=True, reviewer="ana")) == {
        calls["plain"], calls["good"], calls["split"]}

    undo_last(engine, "bob")
    undo_last(engine, "ana")  # the whole bulk pass
    assert set(answers(engine, include_passing=True)) == {calls["plain"]}


def test_filters_select_calls_by_version_and_time(engine, calls):
    for name in calls:
        annotate(engine, calls[name], "ana", correction(f"fixed {name}"))
    every = list(calls.values())
    assert list(answers(engine)) == every
    assert list(answers(engine, batch_size=2)) == every
    assert list(answers(engine, model_versions=["v2"])) == [calls["good"], calls["split"]]
    window = {"since": T0 + timedelta(minutes=1), "until": T0 + timedelta(minutes=3)}
    assert list(answers(engine, **window)) == [calls["plain"], calls["partial"]]
    assert answers(engine, reviewer="nobody") == {}
    assert answers(engine, model_versions=["no such version"]) == {}


@pytest.fixture
def history(engine, calls) -> dict[str, int]:
    """ana judges, re-judges and skips; bob bulk-passes then undoes; cid judges once."""
    first = annotate(engine, calls["chat"], "ana", correction("Paris", "fail", "hallucination"),
                     seconds_spent=12.5)
    second = annotate(engine, calls["chat"], "ana",
                      Judgement("fail", ("hallucination",), "capital", "Paris."))
    skip = record_skip(engine, calls["plain"], "ana")
    batch = bulk_annotate(engine, [calls["good"], calls["split"]], "bob", PASS)
    undo_last(engine, "bob")
    kept = annotate(engine, calls["good"], "cid", Judgement("unsure", note="hmm"))
    return {"first": first, "second": second, "skip": skip, "kept": kept, "batch": batch}


def test_current_annotation_rows(engine, calls, history):
    rows = list(iter_annotation_rows(engine))
    assert [r["annotation_id"] for r in rows] == [history["second"], history["kept"]]
    assert list(rows[0]) == [*ANNOTATION_COLUMNS, "scores"]
    created = call_history(engine, calls["chat"])[0].created_at.isoformat()
    assert rows[0] == {
        "annotation_id": history["second"], "call_id": calls["chat"], "model_version": "v1",
        "reviewer": "ana", "action": "judge", "verdict": "fail", "labels": ["hallucination"],
        "note": "capital", "corrected_output": "Paris.", "seconds_spent": None,
        "review_session_id": None, "batch_id": None, "retracted": False, "retracts_id": None,
        "created_at": created, "scores": {},
    }
    assert [r["annotation_id"] for r in iter_annotation_rows(engine, reviewer="cid")] == [
        history["kept"]]
    assert [r["annotation_id"] for r in iter_annotation_rows(engine, model_versions=["v1"])] == [
        history["second"]]


def test_full_history_keeps_skips_retracts_and_replaced_rows(engine, calls, history):
    rows = list(iter_annotation_rows(engine, current_only=False, batch_size=3))
    assert [(r["reviewer"], r["action"], r["retracted"]) for r in rows] == [
        ("ana", "judge", False), ("ana", "judge", False), ("ana", "skip", False),
        ("bob", "judge", True), ("bob", "judge", True),
        ("bob", "retract", False), ("bob", "retract", False),
        ("cid", "judge", False),
    ]
    bulk, retracts = rows[3:5], rows[5:7]
    assert {r["batch_id"] for r in bulk} == {history["batch"]}
    assert sorted(r["retracts_id"] for r in retracts) == [r["annotation_id"] for r in bulk]
    assert rows[0]["seconds_spent"] == 12.5

    out = io.StringIO()
    assert write_annotations_csv(rows, out) == 8
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(table[0]) == list(ANNOTATION_COLUMNS)
    assert (table[0]["labels"], table[0]["retracted"], table[2]["verdict"]) == (
        "hallucination", "false", "")
    assert table[3]["retracted"] == "true"


def test_export_annotations_by_suffix(engine, calls, history, tmp_path):
    assert export_annotations(engine, tmp_path / "all.jsonl", current_only=False) == 8
    lines = (tmp_path / "all.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["labels"] == ["hallucination"]
    assert export_annotations(engine, tmp_path / "now.csv") == 2
    with pytest.raises(ValueError, match="use one of csv, jsonl"):
        export_annotations(engine, tmp_path / "now.parquet")
    assert not (tmp_path / "now.parquet").exists()
    assert not list(tmp_path.glob("*.partial"))  # written aside, moved in place when complete


def test_cli_errors_are_one_line(db_url, tmp_path):
    runner = CliRunner()
    cases = {
        ("export-sft", str(tmp_path / "out.csv")): "name the file *.jsonl",
        ("export-sft", str(tmp_path / "missing" / "out.jsonl")): "does not exist",
        ("export-annotations", str(tmp_path / "out.txt")): "use one of csv, jsonl",
        ("export-annotations", str(tmp_path)): "is a folder",
    }
    for args, message in cases.items():
        result = runner.invoke(app, ["review", *args, "--db", db_url])
        assert isinstance(result.exception, CLIError), (args, result.output)
        assert message in str(result.exception)


@pytest.mark.skipif(EVALBOARD is None, reason="the evalboard script is not installed")
def test_cli_exports_through_the_console_script(engine, db_url, calls, tmp_path):
    annotate(engine, calls["plain"], "ana", correction("4"))
    annotate(engine, calls["good"], "bob", PASS)
    record_skip(engine, calls["split"], "bob")
    commands = [
        ["review", "export-sft", "sft.jsonl", "--include-passing", "--model-version", "v1",
         "--model-version", "v2", "--db", db_url],
        ["review", "export-annotations", "history.csv", "--all-history", "--db", db_url],
    ]
    env = {**os.environ, "EVALBOARD_DB_URL": "sqlite:////nonexistent/unused.db"}
    procs = [subprocess.Popen([EVALBOARD, *args], cwd=tmp_path, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for args in commands]
    results = [(*p.communicate(timeout=120), p.returncode) for p in procs]
    assert results == [("wrote 2 examples to sft.jsonl\n", "", 0),
                       ("wrote 3 annotations to history.csv\n", "", 0)]
    examples = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert [e["messages"][-1]["content"] for e in examples] == ["4", "hi"]
    with (tmp_path / "history.csv").open(newline="") as f:
        assert [r["action"] for r in csv.DictReader(f)] == ["judge", "judge", "skip"]



# scores -----------------------------------------------------------------------------------

@pytest.fixture
def scored(engine, calls) -> dict[str, int]:
    """Four score configurations (one never used); ana scores chat twice (the second replaces
    the first), bob scores plain and skips good; plain is adjudicated with scores of its own."""
    create_score_config(engine, "helpfulness", "rating", maximum=5)
    create_score_config(engine, "confidence", "numeric", minimum=0, maximum=1)
    create_score_config(engine, "tone", "choice", choices=["friendly", "rude"])
    create_score_config(engine, "unused", "text")
    first = annotate(engine, calls["chat"], "ana", Judgement("fail", scores=(
        ("helpfulness", 2), ("tone", "rude"))))
    second = annotate(engine, calls["chat"], "ana", Judgement("pass", scores=(
        ("helpfulness", "4"), ("confidence", 0.25), ("tone", "friendly"))))
    bob = annotate(engine, calls["plain"], "bob", Judgement("fail", scores=(("confidence", 1),)))
    skip = record_skip(engine, calls["good"], "bob")
    final = adjudicate(engine, calls["plain"], "lead", Judgement("pass", scores=(
        ("helpfulness", 5),)))
    return {"first": first, "second": second, "bob": bob, "skip": skip, "final": final}


def test_annotation_rows_carry_their_own_scores_with_numbers_as_numbers(engine, calls, scored):
    rows = {r["annotation_id"]: r for r in iter_annotation_rows(engine)}
    assert list(rows) == [scored["second"], scored["final"]]  # final answers only
    assert rows[scored["second"]]["scores"] == {"confidence": 0.25, "helpfulness": 4,
                                                "tone": "friendly"}
    assert isinstance(rows[scored["second"]]["scores"]["helpfulness"], int)  # a rating
    assert rows[scored["final"]]["scores"] == {"helpfulness": 5}  # the adjudication's own
    history = {r["annotation_id"]: r["scores"]
               for r in iter_annotation_rows(engine, current_only=False, batch_size=2)}
    assert history[scored["first"]] == {"helpfulness": 2, "tone": "rude"}  # replaced row: its own
    assert history[scored["bob"]] == {"confidence": 1.0}
    assert history[scored["skip"]] == {}
    out = io.StringIO()
    write_sft_jsonl(iter_annotation_rows(engine), out)
    first_line = out.getvalue().splitlines()[0]
    assert '"scores": {"confidence": 0.25, "helpfulness": 4, "tone": "friendly"}' in first_line


def test_csv_has_a_score_column_per_configuration(engine, calls, scored, tmp_path):
    assert export_annotations(engine, tmp_path / "history.csv", current_only=False) == 5
    with (tmp_path / "history.csv").open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        table = list(reader)
    assert reader.fieldnames == [*ANNOTATION_COLUMNS, "score:confidence", "score:helpfulness",
                                 "score:tone", "score:unused"]
    by_id = {int(r["annotation_id"]): r for r in table}
    cells = ("score:confidence", "score:helpfulness", "score:tone", "score:unused")
    assert [by_id[scored["first"]][c] for c in cells] == ["", "2", "rude", ""]
    assert [by_id[scored["second"]][c] for c in cells] == ["0.25", "4", "friendly", ""]
    assert [by_id[scored["bob"]][c] for c in cells] == ["1.0", "", "", ""]
    assert [by_id[scored["skip"]][c] for c in cells] == ["", "", "", ""]
    assert [by_id[scored["final"]][c] for c in cells] == ["", "5", "", ""]
    assert by_id[scored["second"]]["verdict"] == "pass"  # the other columns as before

    assert export_annotations(engine, tmp_path / "now.jsonl") == 2
    lines = [json.loads(line) for line in (tmp_path / "now.jsonl").read_text().splitlines()]
    assert [line["scores"] for line in lines] == [
        {"confidence": 0.25, "helpfulness": 4, "tone": "friendly"}, {"helpfulness": 5}]
    # without score configurations in the header, the header is the columns alone
    out = io.StringIO()
    write_annotations_csv(iter_annotation_rows(engine), out)
    assert out.getvalue().splitlines()[0] == ",".join(ANNOTATION_COLUMNS)
