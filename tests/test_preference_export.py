"""Preference exports: TRL, OpenAI DPO and KTO files from corrections, pairwise answers, eval
runs and verdicts, read back with `datasets` and TRL's own dataset helpers."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalboard.cli.main import app, main
from evalboard.exchange.preference_sources import (
    PreferenceFilter,
    Skipped,
    correction_pairs,
    judgement_verdicts,
    pairwise_pairs,
    run_pairs,
)
from evalboard.exchange.preferences import (
    PreferenceExport,
    PreferenceExportError,
    default_test_path,
    export_preferences,
    iter_preference_records,
    preference_file_bytes,
)
from evalboard.pairwise.answers import PairVerdict, record_answer
from evalboard.review.annotations import Judgement, annotate
from tests.support.calls import T0, add_calls
from tests.support.pairwise_data import add_pair, add_run_outputs, ensure_versions

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]


def _last_call_id(engine) -> int:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from evalboard.store.models import Call

    with Session(engine) as session:
        return session.scalar(select(func.max(Call.id)))


def _call(engine, text: Any, output: str, version: str = "v1",
          created_at: datetime = T0) -> int:
    add_calls(engine, [{"input": text, "output": output, "model_version": version,
                        "created_at": created_at}])
    return _last_call_id(engine)


@pytest.fixture
def store(engine):
    """Two versions with each kind of preference data (see the comments)."""
    ensure_versions(engine, ["v1", "v2"])
    # corrections: a plain prompt (labelled), a chat prompt, one correction equal to the
    # output (left out), and one a later judgement replaced (not current)
    plain = _call(engine, "What is 2+2?", "5")
    annotate(engine, plain, "ana", Judgement("fail", ("hallucination",), corrected_output="4"))
    chat = _call(engine, CHAT, "Good day to you, dear user.", "v2")
    annotate(engine, chat, "ben", Judgement("fail", corrected_output="Hi!"))
    same = _call(engine, "Say yes", "yes")
    annotate(engine, same, "ana", Judgement("pass", corrected_output="yes"))
    replaced = _call(engine, "Old question", "old answer")
    annotate(engine, replaced, "ana", Judgement("fail", corrected_output="better"))
    annotate(engine, replaced, "ana", Judgement("pass"))
    # pairwise: v2 wins one pair, v1 wins one, a tie, both bad, and a split decision
    outcomes = {"p-win": ["a"], "p-lose": ["b"], "p-tie": ["tie"], "p-bad": ["both_bad"],
                "p-split": ["a", "b"]}
    for prompt, answers in outcomes.items():
        call_a, call_b = add_pair(engine, "v2", "v1", prompt=prompt,
                                  output_a=f"v2 on {prompt}", output_b=f"v1 on {prompt}")
        for reviewer, outcome in zip(["ana", "ben"], answers, strict=False):
            record_answer(engine, call_a, call_b, reviewer, PairVerdict(outcome))
    # runs: case x fails on v1 and passes on v2; case y passes on both (no pair)
    add_run_outputs(engine, "smoke", "v1", [("x", "bad x", False), ("y", "fine y", True)],
                    created_by="ci")
    add_run_outputs(engine, "smoke", "v2", [("x", "good x", True), ("y", "fine y 2", True)],
                    created_by="ci")
    # verdicts: a pass, a fail, a disagreement
    good = _call(engine, "Name a colour", "red")
    annotate(engine, good, "ana", Judgement("pass"))
    bad = _call(engine, "Name a number", "banana")
    annotate(engine, bad, "ana", Judgement("fail", ("hallucination",)))
    split = _call(engine, "Name a pet", "rock")
    annotate(engine, split, "ana", Judgement("pass"))
    annotate(engine, split, "ben", Judgement("fail"))
    return engine


def meta(record: dict[str, Any]) -> dict[str, Any]:
    return json.loads(record["metadata"])


def _records(engine, **spec: Any) -> list[dict[str, Any]]:
    return [record for _, record in iter_preference_records(engine, PreferenceExport(**spec))]


def _load_json(path: Path):
    datasets = pytest.importorskip("datasets")
    return datasets.load_dataset("json", data_files=str(path), split="train")


@pytest.fixture(scope="module")
def tokenizer():
    from tests.tiny_models import build_tokenizer

    return build_tokenizer()


# ------------------------------------------------------------------ what each source gives


def test_corrections_are_chosen_over_the_model_output(store):
    records = _records(store, sources=("corrections",))
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in records] == [
        ([{"role": "user", "content": "What is 2+2?"}],
         [{"role": "assistant", "content": "4"}], [{"role": "assistant", "content": "5"}]),
        (CHAT, [{"role": "assistant", "content": "Hi!"}],
         [{"role": "assistant", "content": "Good day to you, dear user."}]),
    ]
    first = records[0]
    assert first["source"] == "corrections"
    assert meta(first)["reviewers"] == ["ana"]
    assert meta(first)["labels"] == ["hallucination"]
    assert meta(first)["rejected_model_version"] == "v1"
    assert meta(first)["chosen_model_version"] is None  # a reviewer wrote it


def test_pairwise_answers_choose_the_winner_ties_and_both_bad_left_out(store):
    summary_records = list(iter_preference_records(
        store, spec := PreferenceExport(sources=("pairwise",))))
    records = [r for _, r in summary_records]
    assert [(r["prompt"][0]["content"], r["chosen"][0]["content"], r["rejected"][0]["content"])
            for r in records] == [("p-win", "v2 on p-win", "v1 on p-win"),
                                  ("p-lose", "v1 on p-lose", "v2 on p-lose")]
    assert meta(records[0])["chosen_model_version"] == "v2"
    skipped = Skipped()
    list(pairwise_pairs(store, spec.filter, skipped))
    assert skipped.counts == {"ties": 1, "both bad": 1, "undecided": 1}


def test_eval_runs_pair_a_passing_output_with_a_failing_one(store):
    records = _records(store, sources=("runs",))
    assert len(records) == 1
    record = records[0]
    assert record["prompt"] == [{"role": "user", "content": "case x"}]
    assert (record["chosen"][0]["content"], record["rejected"][0]["content"]) == (
        "good x", "bad x")
    assert meta(record)["case_id"] is not None
    assert (meta(record)["chosen_model_version"],
            meta(record)["rejected_model_version"]) == ("v2", "v1")


def test_only_the_latest_finished_run_of_a_version_counts(store):
    add_run_outputs(store, "smoke", "v1", [("x", "fixed x", True), ("y", "fine y", True)])
    add_run_outputs(store, "smoke", "v2", [("x", "broken x", False), ("y", "y", True)],
                    status="interrupted")
    assert _records(store, sources=("runs",)) == []


def test_kto_from_single_verdicts(store):
    records = _records(store, fmt="kto")
    assert [(r["prompt"][-1]["content"], r["completion"][0]["content"], r["label"])
            for r in records] == [("What is 2+2?", "5", False),
                                  ("hello", "Good day to you, dear user.", False),
                                  ("Say yes", "yes", True), ("Old question", "old answer", True),
                                  ("Name a colour", "red", True),
                                  ("Name a number", "banana", False)]
    assert {r["source"] for r in records} == {"verdicts"}
    skipped = Skipped()
    list(judgement_verdicts(store, PreferenceFilter(), skipped))
    assert skipped.counts["disagreements"] == 1


def test_kto_from_pairs_splits_each_pair_in_two(store):
    records = _records(store, fmt="kto", sources=("runs",))
    assert sorted((r["completion"][0]["content"], r["label"]) for r in records) == [
        ("bad x", False), ("fine y", True), ("fine y 2", True), ("good x", True)]
    records = _records(store, fmt="kto", sources=("pairwise",))
    assert [(r["completion"][0]["content"], r["label"]) for r in records][:2] == [
        ("v2 on p-win", True), ("v1 on p-win", False)]


# ------------------------------------------------------------------ filters, duplicates, split


def test_filters_by_version_reviewer_label_and_date(store):
    def sources(**f: Any) -> list[tuple[str, str]]:
        spec = PreferenceExport(filter=PreferenceFilter(**f))
        return [(r["source"], r["prompt"][-1]["content"])
                for _, r in iter_preference_records(store, spec)]

    assert ("corrections", "hello") in sources()
    assert ("corrections", "hello") not in sources(model_versions=("v1",))
    assert ("pairwise", "p-win") not in sources(model_versions=("v1",))  # needs both sides
    assert sources(reviewers=("ben",)) == [("corrections", "hello"), ("pairwise", "p-split")]
    assert sources(labels=("hallucination",)) == [("corrections", "What is 2+2?")]
    assert sources(since=datetime(2030, 1, 1)) == []
    with pytest.raises(PreferenceExportError, match="no model version named 'v9'"):
        sources(model_versions=("v9",))


def test_duplicates_are_written_once(store):
    for _ in range(2):
        call = _call(store, "Repeat me", "wrong")
        annotate(store, call, "ana", Judgement("fail", corrected_output="right"))
    spec = PreferenceExport(sources=("corrections",))
    from evalboard.exchange.preferences import ExportSummary

    summary = ExportSummary()
    records = [r for _, r in iter_preference_records(store, spec, summary)]
    assert sum(r["prompt"][0]["content"] == "Repeat me" for r in records) == 1
    assert summary.skipped.counts["duplicates"] == 1
    assert summary.skipped.counts["identical outputs"] == 1


def test_split_by_prompt_is_seeded_and_never_shares_a_prompt(store):
    for k in range(30):
        call = _call(store, f"prompt {k % 10}", f"out {k}")
        annotate(store, call, "ana", Judgement("fail", corrected_output=f"fixed {k}"))
    spec = PreferenceExport(sources=("corrections",), test_share=0.3, seed=11)
    rows = list(iter_preference_records(store, spec))
    train = {meta(r)["prompt_id"] for split, r in rows if split == "train"}
    test = {meta(r)["prompt_id"] for split, r in rows if split == "test"}
    assert train and test and not train & test
    again = list(iter_preference_records(store, spec))
    assert [split for split, _ in again] == [split for split, _ in rows]
    other = list(iter_preference_records(store, PreferenceExport(
        sources=("corrections",), test_share=0.3, seed=12)))
    assert [split for split, _ in other] != [split for split, _ in rows]


def test_sources_read_in_small_batches_give_the_same_pairs(store):
    f = PreferenceFilter()
    for reader in (correction_pairs, pairwise_pairs, run_pairs):
        assert list(reader(store, f, Skipped(), 1)) == list(reader(store, f, Skipped(), 500))
    assert list(judgement_verdicts(store, f, Skipped(), 1)) == \
        list(judgement_verdicts(store, f, Skipped(), 500))


# ------------------------------------------------------------------ files read by datasets / TRL


def test_trl_jsonl_loads_and_trl_applies_its_chat_template(store, tmp_path, tokenizer):
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    out = tmp_path / "prefs.jsonl"
    summary = export_preferences(store, out)
    assert summary.train == 5 and summary.by_source == {"corrections": 2, "pairwise": 2,
                                                        "runs": 1}
    dataset = _load_json(out)
    assert dataset.num_rows == 5
    assert {"prompt", "chosen", "rejected", "source", "metadata"} <= set(dataset.column_names)
    for example in dataset:
        assert is_conversational(example)
        text = maybe_apply_chat_template(example, tokenizer)
        assert text["prompt"].endswith("<|assistant|>")
        assert text["chosen"].strip().endswith("<|end|>")
    chat = dataset[1]
    rendered = maybe_apply_chat_template(chat, tokenizer)
    assert rendered["prompt"] == "<|system|> Be brief. <|end|> <|user|> hello <|end|> <|assistant|>"
    assert rendered["chosen"] == " Hi! <|end|> "
    assert rendered["rejected"] == " Good day to you, dear user. <|end|> "


def test_trl_plain_text_form(store, tmp_path, tokenizer):
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    with pytest.raises(PreferenceExportError, match="has chat input"):
        export_preferences(store, tmp_path / "plain.jsonl", PreferenceExport(plain_text=True))
    assert not (tmp_path / "plain.jsonl").exists()  # nothing half written
    assert not list(tmp_path.glob("*plain*"))  # nor its partial file
    spec = PreferenceExport(plain_text=True, sources=("pairwise", "runs"))
    export_preferences(store, tmp_path / "plain.jsonl", spec)
    dataset = _load_json(tmp_path / "plain.jsonl")
    example = dataset[0]
    assert (example["prompt"], example["chosen"], example["rejected"]) == (
        "p-win", "v2 on p-win", "v1 on p-win")
    assert not is_conversational(example)
    assert maybe_apply_chat_template(example, tokenizer)["prompt"] == "p-win"
    datasets = pytest.importorskip("datasets")
    export_preferences(store, tmp_path / "plain.parquet", spec)
    assert datasets.load_dataset("parquet", data_files=str(tmp_path / "plain.parquet"),
                                 split="train").to_list() == dataset.to_list()


def test_openai_dpo_format(store, tmp_path):
    out = tmp_path / "openai.jsonl"
    export_preferences(store, out, PreferenceExport(fmt="openai"))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["input"] == {"messages": [{"role": "user", "content": "What is 2+2?"}]}
    assert lines[0]["preferred_output"] == [{"role": "assistant", "content": "4"}]
    assert lines[0]["non_preferred_output"] == [{"role": "assistant", "content": "5"}]
    assert _load_json(out).num_rows == len(lines) == 5
    bare = tmp_path / "bare.jsonl"
    export_preferences(store, bare, PreferenceExport(fmt="openai", bare=True))
    assert {tuple(json.loads(line)) for line in bare.read_text().splitlines()} == {
        ("input", "preferred_output", "non_preferred_output")}
    with pytest.raises(PreferenceExportError, match="reads JSONL"):
        export_preferences(store, tmp_path / "openai.parquet", PreferenceExport(fmt="openai"))


def test_parquet_holds_the_same_records(store, tmp_path, tokenizer):
    datasets = pytest.importorskip("datasets")
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    export_preferences(store, tmp_path / "p.jsonl")
    export_preferences(store, tmp_path / "p.parquet")
    from_json = _load_json(tmp_path / "p.jsonl")
    from_parquet = datasets.load_dataset("parquet", data_files=str(tmp_path / "p.parquet"),
                                         split="train")
    assert from_parquet.to_list() == from_json.to_list()
    assert is_conversational(from_parquet[0])
    assert maybe_apply_chat_template(from_parquet[0], tokenizer)["chosen"] == " 4 <|end|> "


def test_kto_files_load_in_both_file_types(store, tmp_path, tokenizer):
    datasets = pytest.importorskip("datasets")
    from trl.data_utils import maybe_apply_chat_template

    spec = PreferenceExport(fmt="kto", sources=("verdicts", "runs"))
    export_preferences(store, tmp_path / "kto.jsonl", spec)
    export_preferences(store, tmp_path / "kto.parquet", spec)
    rows = _load_json(tmp_path / "kto.jsonl")
    assert rows.to_list() == datasets.load_dataset(
        "parquet", data_files=str(tmp_path / "kto.parquet"), split="train").to_list()
    assert set(rows["label"]) == {True, False}
    export_preferences(store, tmp_path / "bare.parquet", PreferenceExport(fmt="kto", bare=True))
    assert datasets.load_dataset("parquet", data_files=str(tmp_path / "bare.parquet"),
                                 split="train").column_names == ["prompt", "completion", "label"]
    text = maybe_apply_chat_template(rows[0], tokenizer)
    assert set(text) == {"prompt", "completion", "label"}


def test_split_files(store, tmp_path):
    for k in range(20):
        call = _call(store, f"prompt {k}", f"out {k}")
        annotate(store, call, "ana", Judgement("fail", corrected_output=f"fixed {k}"))
    out = tmp_path / "train.jsonl"
    summary = export_preferences(store, out, PreferenceExport(test_share=0.25, seed=3))
    test_file = default_test_path(out)
    assert test_file.name == "train-test.jsonl"
    datasets = pytest.importorskip("datasets")
    splits = datasets.load_dataset("json", data_files={"train": str(out),
                                                       "test": str(test_file)})
    assert (splits["train"].num_rows, splits["test"].num_rows) == (summary.train, summary.test)
    assert summary.test > 0
    train_prompts = {json.loads(m)["prompt_id"] for m in splits["train"]["metadata"]}
    test_prompts = {json.loads(m)["prompt_id"] for m in splits["test"]["metadata"]}
    assert train_prompts and test_prompts and not train_prompts & test_prompts
    files, again = preference_file_bytes(store, PreferenceExport(test_share=0.25, seed=3))
    assert (again.train, again.test) == (summary.train, summary.test)
    assert files["train"] == out.read_bytes() and files["test"] == test_file.read_bytes()


def test_wrong_requests_are_one_line_errors(store, tmp_path):
    with pytest.raises(PreferenceExportError, match="unknown preference format"):
        export_preferences(store, tmp_path / "x.jsonl", PreferenceExport(fmt="csv"))
    with pytest.raises(PreferenceExportError, match="not verdicts"):
        export_preferences(store, tmp_path / "x.jsonl", PreferenceExport(sources=("verdicts",)))
    with pytest.raises(PreferenceExportError, match="name the file"):
        export_preferences(store, tmp_path / "x.csv")
    with pytest.raises(PreferenceExportError, match="test share"):
        export_preferences(store, tmp_path / "x.jsonl", PreferenceExport(test_share=1.0))


# ------------------------------------------------------------------ the command


def test_cli_export_preferences(store, tmp_path, db_url, monkeypatch, capsys):
    out = tmp_path / "cli.jsonl"
    result = CliRunner().invoke(app, ["review", "export-preferences", str(out), "--db", db_url,
                                      "--source", "pairwise", "--reviewer", "ana"])
    assert result.exit_code == 0, result.output
    assert "wrote 3 records: 3 from pairwise" in result.output  # ana decides p-split
    assert "1 ties" in result.output
    assert len(out.read_text().splitlines()) == 3
    result = CliRunner().invoke(app, ["review", "export-preferences", str(out), "--db", db_url,
                                      "--format", "kto", "--test-share", "0.5",
                                      "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "train" in result.output and default_test_path(out).exists()
    elsewhere = tmp_path / "held-out.jsonl"
    result = CliRunner().invoke(app, ["review", "export-preferences", str(out), "--db", db_url,
                                      "--test-share", "0.5", "--test-out", str(elsewhere)])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) + len(elsewhere.read_text().splitlines()) == 5
    monkeypatch.setattr(sys, "argv", ["evalboard", "review", "export-preferences", str(out),
                                      "--db", db_url, "--format", "openai", "--plain-text"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code != 0
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "chat messages only" in err


# ------------------------------------------------------------------ the download on Review


def test_review_page_builds_preference_files_for_download(store):
    from tests.support.apptest import open_page

    at = open_page("review", timeout=90, reviewer="ana")
    assert not at.exception
    next(s for s in at.selectbox if s.label == "Format").set_value("kto").run()
    next(n for n in at.number_input if n.label == "Test share (by prompt)").set_value(0.5)
    next(b for b in at.button if b.label == "Build preference files").click().run()
    assert not at.exception and not at.error
    downloads = [b.proto.label for b in at.get("download_button")]
    assert "Download train (evalboard-kto-train.jsonl)" in downloads
    assert "Download test (evalboard-kto-test.jsonl)" in downloads
    assert any("from verdicts" in c.value for c in at.caption)


# ------------------------------------------------------------------ a DPOTrainer reads it


def _tiny_causal_lm(folder: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tests.tiny_models import save_tiny_gpt2

    model_dir = save_tiny_gpt2(folder)
    return (AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True),
            AutoTokenizer.from_pretrained(model_dir, local_files_only=True))


def _one_step(folder: Path) -> dict[str, Any]:
    return {"output_dir": str(folder), "max_steps": 1, "report_to": [], "use_cpu": True,
            "save_strategy": "no", "logging_steps": 1}


@pytest.mark.slow
def test_dpo_trainer_trains_a_step_on_the_export(store, tmp_path):
    """The exported file, loaded with datasets, goes to TRL's DPOTrainer as it is (the extra
    `source` and `metadata` columns included) and trains a step of a tiny local GPT-2."""
    from trl import DPOConfig, DPOTrainer

    out = tmp_path / "dpo.jsonl"
    export_preferences(store, out)
    model, tokenizer = _tiny_causal_lm(tmp_path / "model")
    config = DPOConfig(per_device_train_batch_size=2, **_one_step(tmp_path / "run"))
    trainer = DPOTrainer(model=model, args=config, train_dataset=_load_json(out),
                         processing_class=tokenizer)
    assert {"prompt_ids", "chosen_ids", "rejected_ids"} <= set(
        trainer.train_dataset.column_names)
    assert trainer.train().global_step == 1


@pytest.mark.slow
def test_kto_trainer_trains_a_step_on_the_kto_export(store, tmp_path):
    from trl import KTOConfig, KTOTrainer

    out = tmp_path / "kto.jsonl"
    export_preferences(store, out, PreferenceExport(fmt="kto"))
    model, tokenizer = _tiny_causal_lm(tmp_path / "model")
    config = KTOConfig(per_device_train_batch_size=4, **_one_step(tmp_path / "run"))
    trainer = KTOTrainer(model=model, args=config, train_dataset=_load_json(out),
                         processing_class=tokenizer)
    assert trainer.train().global_step == 1
