"""The suite runner end to end: a tiny local GPT-2, callables, replay, resume, client and CLI.

Nothing downloads: the model is a random 2-layer GPT-2 written to a temporary directory once
per module (see tests/tiny_models.py). Every test gets a fresh SQLite store (conftest).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

import evalboard
from evalboard.cases.draft import CaseDraft
from evalboard.cases.evaluate import evaluate
from evalboard.cases.repository import create_case, get_case, update_case
from evalboard.checks import CheckSpec
from evalboard.runs import runner
from evalboard.runs.generators import CallableGenerator, TransformersGenerator
from evalboard.runs.results import case_results, run_summary
from evalboard.runs.runner import RunError, Selection, run_suite
from evalboard.store.models import Call
from evalboard.store.run_models import CaseResult, CheckResultRow, EvalRun
from tests.support.calls import T0, add_calls
from tests.tiny_models import WORDS, build_tokenizer, save_tiny_gpt2

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: any download would fail
os.environ["TRANSFORMERS_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parents[1]
CHAT = ({"role": "system", "content": "you are a cat"},
        {"role": "user", "content": "how are you"})
OTHER_CHAT = ({"role": "user", "content": "the dog ran fast"},)


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_gpt2(tmp_path_factory.mktemp("models") / "tiny-gpt2")


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return build_tokenizer()


@pytest.fixture(scope="module")
def generation(tokenizer: Any) -> dict[str, Any]:
    # a random tiny model likes special tokens: keep it on words so the texts are non-empty
    return {"max_new_tokens": 4, "suppress_tokens": tokenizer.all_special_ids}


@pytest.fixture(scope="module")
def tiny_generator(model_dir: Path, generation: dict[str, Any]) -> TransformersGenerator:
    """Loaded once per module; a generator keeps no state between runs."""
    return TransformersGenerator(str(model_dir), batch_size=2, generation=generation)


# ---------------------------------------------------------------- helpers


def case(name: str, prompt: Any, *checks: CheckSpec, label: str | None = None,
         mode: str = "success", tags: tuple[str, ...] = ()) -> CaseDraft:
    return CaseDraft(name=name, input=prompt, checks=checks, label=label, mode=mode, tags=tags)


def contains(value: str, negate: bool = False) -> CheckSpec:
    return CheckSpec("contains", {"value": value}, negate=negate)


def make_suite(engine: Engine, suite: str, drafts: list[CaseDraft]) -> dict[str, int]:
    return {draft.name: create_case(engine, suite, draft) for draft in drafts}


def eval_calls(engine: Engine, run_id: int) -> list[Call]:
    """The eval calls logged for a run, found by their external ids."""
    with Session(engine) as session:
        return list(session.scalars(
            select(Call).options(selectinload(Call.model_version))
            .where(Call.source == "eval",
                               Call.external_id.like(f"run-{run_id}-case-%"))
            .order_by(Call.id)))


def results_of(engine: Engine, run_id: int) -> dict[int, CaseResult]:
    with Session(engine) as session:
        rows = list(session.scalars(select(CaseResult).where(CaseResult.run_id == run_id)))
    by_case = {row.case_id: row for row in rows}
    assert len(by_case) == len(rows), "a case has two results in one run"
    return by_case


def get_run(engine: Engine, run_id: int) -> EvalRun:
    with Session(engine) as session:
        run = session.get(EvalRun, run_id)
        assert run is not None
        session.expunge(run)
        return run


def count_runs(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(EvalRun)) or 0


# ---------------------------------------------------------------- callables (module level)

ANSWERS = {
    "Capital of France?": "Paris is the capital.",
    "Capital of Spain?": "Barcelona, I think.",
    "Say hello": "Hello there!",
    "Write the SQL": None,  # the callable raises
}


def answer_model(prompt: Any) -> str:
    """A stand-in API model: a fixed answer per prompt; one prompt makes it crash."""
    text = prompt if isinstance(prompt, str) else prompt[-1]["content"]
    output = ANSWERS.get(text, f"I do not know about {text}")
    if output is None:
        raise RuntimeError("the API timed out")
    return output


INTERRUPT = {"at": None, "seen": []}


def interrupting_model(prompt: Any) -> str:
    """Answers like answer_model, but the n-th call (INTERRUPT['at']) is a Ctrl-C."""
    INTERRUPT["seen"].append(prompt)
    if INTERRUPT["at"] is not None and len(INTERRUPT["seen"]) == INTERRUPT["at"]:
        raise KeyboardInterrupt
    return f"answer to {prompt}"


ATTEMPT = {"n": 0}


def drifting_model(prompt: Any) -> str:
    """A sampling model: a different answer on every attempt."""
    ATTEMPT["n"] += 1
    return "first answer" if ATTEMPT["n"] == 1 else "second answer"


# ---------------------------------------------------------------- transformers end to end


def test_transformers_generator_runs_a_suite_end_to_end(
        engine: Engine, tiny_generator: TransformersGenerator, model_dir: Path,
        generation: dict[str, Any], tokenizer: Any) -> None:
    ids = make_suite(engine, "tiny", [
        case("a-plain-short", "the cat sat", CheckSpec("char_count", {"max": 200}),
             label="wrong format"),
        case("b-plain-long", "hello world", CheckSpec("char_count", {"min": 200}),
             label="wrong format"),
        case("c-chat-no-markup", CHAT, contains("<", negate=True),
             label="biased or insulting", mode="failure"),
        case("d-chat-no-words", OTHER_CHAT,
             CheckSpec("icontains_any", {"values": WORDS}, negate=True),
             label="garbled or incoherent", mode="failure"),
    ])
    progress: list[tuple[int, int]] = []

    summary = run_suite(engine, "tiny", "tiny-v1", tiny_generator,
                        progress=lambda done, total: progress.append((done, total)))

    assert progress == [(2, 4), (4, 4)]  # batch_size 2
    assert (summary.status, summary.generator, summary.model_version) == (
        "finished", "transformers", "tiny-v1")
    assert (summary.total_cases, summary.passed, summary.failed, summary.errors) == (4, 2, 2, 0)
    assert summary.pass_rate == 0.5 and summary.missing == [] and not summary.resumed
    assert summary.label_rates() == {"biased or insulting": 1.0, "garbled or incoherent": 0.0,
                                     "wrong format": 0.5}
    assert summary.by_check == {"char_count": (1, 2), "contains": (1, 1),
                                "icontains_any": (0, 1)}

    run = get_run(engine, summary.run_id)
    assert run.generator_config == {
        "model": str(model_dir), "batch_size": 2, "chat_template": True,
        "generation": {"max_new_tokens": 4, "do_sample": False,
                       "suppress_tokens": generation["suppress_tokens"]}}
    assert run.selection == {"tags": [], "labels": []}
    assert run.finished_at is not None and run.total_cases == 4

    calls = {call.meta["case_id"]: call for call in eval_calls(engine, summary.run_id)}
    assert set(calls) == set(ids.values())
    results = results_of(engine, summary.run_id)
    for name, case_id in ids.items():
        call, result = calls[case_id], results[case_id]
        current = get_case(engine, case_id)
        assert current is not None
        assert call.model_version.name == "tiny-v1" and call.source == "eval"
        assert call.external_id == f"run-{summary.run_id}-case-{case_id}"
        assert call.meta == {"run_id": summary.run_id, "case_id": case_id, "case_version": 1}
        assert call.output and call.error is None and call.latency_ms > 0
        assert call.completion_tokens == len(
            tokenizer(call.output, add_special_tokens=False)["input_ids"])
        assert 0 < call.completion_tokens <= 4
        assert call.prompt_tokens and call.prompt_tokens > 0
        assert result.call_id == call.id and result.case_version_id == current.version_id
        assert result.status == ("pass" if name[0] in "ac" else "fail"), (name, call.output)
        assert result.passed is (result.status == "pass")
    chat_call = calls[ids["c-chat-no-markup"]]
    assert chat_call.input_messages == list(CHAT)
    assert chat_call.prompt_tokens == len(tokenizer.apply_chat_template(
        list(CHAT), add_generation_prompt=True, tokenize=True, return_dict=False))
    assert calls[ids["a-plain-short"]].input_text == "the cat sat"

    views = {view.name: view for view in case_results(engine, summary.run_id)}
    long_checks = views["b-plain-long"].checks
    assert [(c.check_type, c.params, c.passed) for c in long_checks] == [
        ("char_count", {"min": 200}, False)]
    assert long_checks[0].reason.startswith("character count ") and "below the minimum 200" \
        in long_checks[0].reason
    words = views["d-chat-no-words"].checks[0]
    assert (words.check_type, words.negate, words.passed) == ("icontains_any", True, False)
    assert words.reason.startswith("NOT: output contains")
    assert views["c-chat-no-markup"].checks[0].negate is True
    assert views["c-chat-no-markup"].output == chat_call.output


def test_plain_prompt_tokens_include_the_chat_template(
        tiny_generator: TransformersGenerator, tokenizer: Any) -> None:
    [generated] = tiny_generator.generate(["the cat sat"])

    templated = tokenizer.apply_chat_template(
        [{"role": "user", "content": "the cat sat"}], add_generation_prompt=True,
        tokenize=True, return_dict=False)
    assert generated.prompt_tokens == len(templated)  # 6: <|user|> the cat sat <|end|> <|asst|>


# ---------------------------------------------------------------- callables


def test_callable_function_object_logs_outputs_and_records_the_reference(
        engine: Engine) -> None:
    ids = make_suite(engine, "api", [
        case("france", "Capital of France?", contains("Paris"), label="hallucination"),
        case("spain", "Capital of Spain?", contains("Madrid"), label="hallucination"),
    ])

    summary = run_suite(engine, "api", "api-v1", CallableGenerator(answer_model))

    assert (summary.passed, summary.failed, summary.errors) == (1, 1, 0)
    run = get_run(engine, summary.run_id)
    assert (run.generator, run.generator_config) == (
        "callable", {"callable": f"{answer_model.__module__}:answer_model"})
    outputs = {call.meta["case_id"]: call.output for call in eval_calls(engine, summary.run_id)}
    assert outputs == {ids["france"]: "Paris is the capital.",
                       ids["spain"]: "Barcelona, I think."}


def test_callable_module_function_string_is_imported() -> None:
    generator = CallableGenerator("tests.tiny_models:echo_model")

    assert generator.config() == {"callable": "tests.tiny_models:echo_model"}
    [plain, chat] = generator.generate(["hi", list(CHAT)])
    assert (plain.output, plain.error) == ("echo: hi", None)
    assert chat.output == "echo: how are you"
    for bad, message in (("tests.tiny_models", "expected module:function"),
                         ("no_such_module_for_evalboard:fn", "cannot import"),
                         ("tests.tiny_models:missing", "has no function 'missing'"),
                         ("tests.tiny_models:WORDS", "has no function 'WORDS'")):
        with pytest.raises(ValueError, match=message):
            CallableGenerator(bad)


def test_string_callable_runs_a_suite(engine: Engine) -> None:
    make_suite(engine, "echo", [case("greet", "hello", contains("echo: hello"))])

    summary = run_suite(engine, "echo", "echo-v1",
                        CallableGenerator("tests.tiny_models:echo_model"))

    assert (summary.passed, summary.scored) == (1, 1)
    assert get_run(engine, summary.run_id).generator_config == {
        "callable": "tests.tiny_models:echo_model"}


def test_an_error_in_one_case_is_its_result_and_the_run_goes_on(engine: Engine) -> None:
    ids = make_suite(engine, "mixed", [
        case("a-france", "Capital of France?", contains("Paris"),
             CheckSpec("char_count", {"max": 100}), label="hallucination"),
        case("b-spain", "Capital of Spain?", contains("Madrid"),
             CheckSpec("char_count", {"max": 100}), label="hallucination"),
        case("c-sql", "Write the SQL", CheckSpec("regex", {"pattern": "^SELECT"}),
             label="wrong format"),
        case("d-hello", "Say hello", CheckSpec("icontains", {"value": "hello"}),
             label="appropriate response"),
        case("e-unlabelled", "Anything else?", contains("know")),
    ])

    summary = run_suite(engine, "mixed", "api-v1", CallableGenerator(answer_model))

    assert summary.status == "finished"
    assert (summary.passed, summary.failed, summary.errors, summary.scored) == (3, 1, 1, 5)
    assert summary.pass_rate == pytest.approx(3 / 5)
    assert summary.by_label == {"hallucination": (1, 2), "wrong format": (0, 1),
                                "appropriate response": (1, 1)}
    assert summary.label_rates() == {"appropriate response": 1.0, "hallucination": 0.5,
                                     "wrong format": 0.0}
    # the crashed case has no output, so none of its checks ran
    assert summary.by_check == {"contains": (2, 3), "char_count": (2, 2), "icontains": (1, 1)}
    assert summary.check_rates() == {"char_count": 1.0, "contains": pytest.approx(2 / 3),
                                     "icontains": 1.0}

    sql = results_of(engine, summary.run_id)[ids["c-sql"]]
    assert (sql.status, sql.passed, sql.score) == ("error", False, 0.0)
    assert sql.error == "RuntimeError: the API timed out"
    with Session(engine) as session:
        crashed = session.get(Call, sql.call_id)
        assert crashed is not None
        assert (crashed.output, crashed.error) == (None, "RuntimeError: the API timed out")
        assert session.scalar(select(func.count()).select_from(CheckResultRow).where(
            CheckResultRow.case_result_id == sql.id)) == 0
    assert len(eval_calls(engine, summary.run_id)) == 5


def test_selection_by_tag_and_label_and_bad_suites(engine: Engine) -> None:
    make_suite(engine, "sel", [
        case("france", "Capital of France?", contains("Paris"), label="hallucination",
             tags=("geo",)),
        case("hello", "Say hello", contains("Hello"), tags=("smoke",)),
    ])

    by_tag = run_suite(engine, "sel", "v1", CallableGenerator(answer_model),
                       selection=Selection(tags=("smoke",)))
    by_label = run_suite(engine, "sel", "v1", CallableGenerator(answer_model),
                         selection=Selection(labels=("hallucination",)))

    assert (by_tag.total_cases, by_label.total_cases) == (1, 1)
    assert by_tag.run_id != by_label.run_id
    assert get_run(engine, by_tag.run_id).selection == {"tags": ["smoke"], "labels": []}
    with pytest.raises(RunError, match="there is no suite"):
        run_suite(engine, "nope", "v1", CallableGenerator(answer_model))
    with pytest.raises(RunError, match="no active cases"):
        run_suite(engine, "sel", "v1", CallableGenerator(answer_model),
                  selection=Selection(tags=("absent",)))


# ---------------------------------------------------------------- replay


def test_replay_matches_exact_and_normalised_inputs_and_lists_missing_cases(
        engine: Engine) -> None:
    ids = make_suite(engine, "replay", [
        case("chat", CHAT, contains("purr"), label="appropriate response"),
        case("errored", "Crash me", contains("ok")),
        case("exact", "What is the refund window?", contains("14 days"),
             label="hallucination"),
        case("never-logged", "Never asked", contains("x"), label="hallucination"),
        case("newest-wins", "Say hello", CheckSpec("icontains", {"value": "hello"})),
        case("normalised", "Capital of France?", contains("Paris"), label="hallucination"),
        case("other-version-only", "Only asked of v0", contains("x")),
    ])
    add_calls(engine, [
        {"input": "What is the refund window?", "output": "14 days.", "model_version": "prod"},
        {"input": "  capital OF\n  france? ", "output": "Paris.", "model_version": "prod"},
        {"input": "Say hello", "output": "Hello!", "model_version": "prod", "created_at": T0},
        {"input": "say   HELLO", "output": "Bye.", "model_version": "prod", "created_at": T0},
        {"input": list(CHAT), "output": "purr purr", "model_version": "prod"},
        {"input": "Crash me", "output": None, "error": "TimeoutError: 30 s",
         "model_version": "prod"},
        {"input": "Only asked of v0", "output": "x", "model_version": "v0"},
    ])
    with Session(engine) as session:
        logged = {(c.input_text, c.output): c.id for c in session.scalars(select(Call))}
        calls_before = session.scalar(select(func.count()).select_from(Call))

    summary = run_suite(engine, "replay", "prod", None)

    assert (summary.generator, summary.status, summary.total_cases) == ("replay", "finished", 7)
    assert get_run(engine, summary.run_id).generator_config == {"match": "normalised input"}
    assert (summary.passed, summary.failed, summary.errors) == (3, 1, 1)
    assert summary.missing == ["never-logged", "other-version-only"]
    assert summary.scored == 5 and summary.pass_rate == pytest.approx(3 / 5)
    assert summary.by_label == {"appropriate response": (1, 1), "hallucination": (2, 2)}
    results = results_of(engine, summary.run_id)
    status = {name: results[case_id].status for name, case_id in ids.items()}
    assert status == {"chat": "pass", "errored": "error", "exact": "pass",
                      "never-logged": "missing", "newest-wins": "fail", "normalised": "pass",
                      "other-version-only": "missing"}
    assert results[ids["normalised"]].call_id == logged[("  capital OF\n  france? ", "Paris.")]
    assert results[ids["newest-wins"]].call_id == logged[("say   HELLO", "Bye.")]
    assert results[ids["errored"]].error == "TimeoutError: 30 s"
    for name in ("never-logged", "other-version-only"):
        missing = results[ids[name]]
        assert (missing.call_id, missing.passed, missing.score) == (None, False, 0.0)
    views = {view.name: view for view in case_results(engine, summary.run_id)}
    assert views["never-logged"].checks == () and views["never-logged"].output is None
    with Session(engine) as session:  # replay logs nothing
        assert session.scalar(select(func.count()).select_from(Call)) == calls_before


def test_replay_of_a_version_without_calls_is_all_missing(engine: Engine) -> None:
    make_suite(engine, "replay", [case("one", "a question", contains("x"))])

    summary = run_suite(engine, "replay", "never-logged-v9", None)

    assert summary.missing == ["one"] and summary.scored == 0 and summary.pass_rate == 0.0
    assert summary.status == "finished"


# ---------------------------------------------------------------- resume

FIVE = [case(f"case-{i}", f"prompt {i}", contains(f"prompt {i}"), tags=("odd",) if i % 2 else ())
        for i in range(1, 6)]


@pytest.fixture
def interrupting() -> Iterator[dict[str, Any]]:
    INTERRUPT.update(at=None, seen=[])
    yield INTERRUPT
    INTERRUPT.update(at=None, seen=[])


def test_keyboard_interrupt_then_the_same_run_resumes(
        engine: Engine, interrupting: dict[str, Any]) -> None:
    make_suite(engine, "five", FIVE)
    interrupting["at"] = 3

    with pytest.raises(KeyboardInterrupt):
        run_suite(engine, "five", "v1", CallableGenerator(interrupting_model))

    first_run = get_run(engine, 1)
    assert first_run.status == "interrupted" and first_run.finished_at is None
    assert len(results_of(engine, first_run.id)) == 2
    assert len(eval_calls(engine, first_run.id)) == 2

    interrupting.update(at=None, seen=[])
    progress: list[tuple[int, int]] = []
    summary = run_suite(engine, "five", "v1", CallableGenerator(interrupting_model),
                        progress=lambda done, total: progress.append((done, total)))

    assert summary.run_id == first_run.id and summary.resumed
    assert interrupting["seen"] == ["prompt 3", "prompt 4", "prompt 5"]  # only the rest
    assert progress == [(3, 5), (4, 5), (5, 5)]
    assert (summary.status, summary.passed, summary.scored) == ("finished", 5, 5)
    assert len(results_of(engine, summary.run_id)) == 5
    calls = eval_calls(engine, summary.run_id)
    assert len(calls) == len({c.external_id for c in calls}) == 5
    assert count_runs(engine) == 1
    assert get_run(engine, summary.run_id).finished_at is not None

    again = run_suite(engine, "five", "v1", CallableGenerator(interrupting_model))
    assert again.run_id != summary.run_id and not again.resumed  # a finished run stays closed


def test_an_interrupted_run_is_not_resumed_with_other_settings(
        engine: Engine, interrupting: dict[str, Any]) -> None:
    make_suite(engine, "five", FIVE)
    interrupting["at"] = 2
    with pytest.raises(KeyboardInterrupt):
        run_suite(engine, "five", "v1", CallableGenerator(interrupting_model))
    interrupting.update(at=None, seen=[])

    other_version = run_suite(engine, "five", "v2", CallableGenerator(interrupting_model))
    other_generator = run_suite(engine, "five", "v1", CallableGenerator(answer_model))
    other_selection = run_suite(engine, "five", "v1", CallableGenerator(interrupting_model),
                                selection=Selection(tags=("odd",)))
    assert get_run(engine, 1).status == "interrupted"
    same = run_suite(engine, "five", "v1", CallableGenerator(interrupting_model))

    assert not (other_version.resumed or other_generator.resumed or other_selection.resumed)
    assert len({1, other_version.run_id, other_generator.run_id, other_selection.run_id}) == 4
    assert other_selection.total_cases == 3
    assert same.resumed and same.run_id == 1 and same.scored == 5  # same settings: resumed


def test_case_results_are_unique_per_run_and_case(engine: Engine) -> None:
    ids = make_suite(engine, "five", FIVE[:1])
    summary = run_suite(engine, "five", "v1", CallableGenerator(interrupting_model))
    existing = results_of(engine, summary.run_id)[ids["case-1"]]

    with pytest.raises(IntegrityError), Session(engine) as session:
        session.add(CaseResult(run_id=summary.run_id, case_id=ids["case-1"],
                               case_version_id=existing.case_version_id, status="pass",
                               passed=True, score=1.0))
        session.commit()


SLOW_HELPER = '''
"""A model that hangs on one prompt when SLOW_AT is set (the run gets killed meanwhile)."""
import os
import pathlib
import time


def generate(prompt):
    if prompt == os.environ.get("SLOW_AT"):
        pathlib.Path(os.environ["SLOW_MARKER"]).write_text("generating")
        time.sleep(120)
    return f"answer to {prompt}"
'''


def write_helper(folder: Path, name: str) -> str:
    (folder / f"{name}.py").write_text(textwrap.dedent(SLOW_HELPER))
    return name


def subprocess_env(folder: Path, **extra: str) -> dict[str, str]:
    paths = [str(folder), str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p), **extra}


def test_a_run_killed_with_sigkill_resumes_in_the_same_run(
        engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_suite(engine, "five", FIVE)
    module = write_helper(tmp_path, "runner_kill_helper")
    marker = tmp_path / "started"
    script = ("from evalboard.runs import runner\n"
              "from evalboard.runs.generators import CallableGenerator\n"
              "from evalboard.runs.runner import run_suite\n"
              "from evalboard.store import open_store\n"
              "runner.LOG_EVERY_SECONDS = 0\n"  # each output logged as it comes
              f"run_suite(open_store({db_url!r}), 'five', 'v1', "
              f"CallableGenerator('{module}:generate'))\n")
    process = subprocess.Popen(
        [sys.executable, "-c", script], cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(tmp_path, SLOW_AT="prompt 3", SLOW_MARKER=str(marker)))
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the subprocess never reached case 3"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL

    run_id = 1
    assert get_run(engine, run_id).status == "running"  # killed: nobody marked it
    assert len(eval_calls(engine, run_id)) == 2  # logged; scored when the run resumes

    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        summary = run_suite(engine, "five", "v1", CallableGenerator(f"{module}:generate"))
    finally:
        sys.modules.pop(module, None)

    assert summary.run_id == run_id and summary.resumed
    assert (summary.status, summary.passed, summary.scored) == ("finished", 5, 5)
    assert count_runs(engine) == 1
    assert len(results_of(engine, run_id)) == 5
    calls = eval_calls(engine, run_id)
    assert len(calls) == len({c.external_id for c in calls}) == 5
    assert sorted(c.output for c in calls) == [f"answer to prompt {i}" for i in range(1, 6)]


def test_resume_after_logging_scores_the_output_it_links(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = make_suite(engine, "drift", [case("one", "say something", contains("first"))])
    ATTEMPT["n"] = 0
    record = runner._record
    calls = {"n": 0}

    def record_interrupted_once(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:  # the output is logged, then the process dies before recording
            raise KeyboardInterrupt
        record(*args, **kwargs)

    monkeypatch.setattr(runner, "_record", record_interrupted_once)
    with pytest.raises(KeyboardInterrupt):
        run_suite(engine, "drift", "v1", CallableGenerator(drifting_model))
    summary = run_suite(engine, "drift", "v1", CallableGenerator(drifting_model))

    assert summary.resumed
    result = results_of(engine, summary.run_id)[ids["one"]]
    view = get_case(engine, ids["one"])
    assert view is not None
    with Session(engine) as session:
        call = session.get(Call, result.call_id)
        assert call is not None
        # the verdict must be the verdict on the output it points to
        assert evaluate(view.draft, call.output, call).passed is result.passed


# ---------------------------------------------------------------- case versions


def test_a_changed_case_runs_with_its_new_version(engine: Engine) -> None:
    ids = make_suite(engine, "versions", [
        case("france", "Capital of France?", contains("Lyon"), label="hallucination")])
    first = run_suite(engine, "versions", "api-v1", CallableGenerator(answer_model))
    old = get_case(engine, ids["france"])
    assert old is not None

    version = update_case(engine, ids["france"], case(
        "france", "Capital of France?", contains("Paris"), label="hallucination"))
    second = run_suite(engine, "versions", "api-v1", CallableGenerator(answer_model))

    new = get_case(engine, ids["france"])
    assert new is not None and version == new.version == 2
    assert second.run_id != first.run_id
    assert results_of(engine, first.run_id)[ids["france"]].case_version_id == old.version_id
    assert results_of(engine, second.run_id)[ids["france"]].case_version_id == new.version_id
    assert new.version_id != old.version_id
    assert (first.passed, second.passed) == (0, 1)
    [call] = eval_calls(engine, second.run_id)
    assert call.meta["case_version"] == 2
    [view] = case_results(engine, second.run_id)
    assert view.version == 2 and view.checks[0].params == {"value": "Paris"}


# ---------------------------------------------------------------- client and CLI


def test_client_run_suite_returns_the_summary(engine: Engine, db_url: str) -> None:
    make_suite(engine, "client", [
        case("france", "Capital of France?", contains("Paris"), label="hallucination"),
        case("spain", "Capital of Spain?", contains("Madrid"), label="hallucination"),
    ])

    with evalboard.connect(db_url, mode="sync") as eb:
        summary = eb.run_suite("client", generate=answer_model, model_version="api-v1")
        replayed = eb.run_suite("client", model_version="api-v1")  # the calls just logged
        with pytest.raises(ValueError, match="model_version"):
            eb.run_suite("client", generate=answer_model)

    assert (summary.generator, summary.model_version, summary.status) == (
        "callable", "api-v1", "finished")
    assert (summary.passed, summary.failed) == (1, 1)
    assert summary.label_rates() == {"hallucination": 0.5}
    assert summary.check_rates() == {"contains": 0.5}
    assert (replayed.generator, replayed.passed, replayed.failed, replayed.missing) == (
        "replay", 1, 1, [])
    assert run_summary(engine, summary.run_id).passed == 1


CLI_HELPER = '''
def generate(prompt):
    return {"Capital of France?": "Paris.", "Say hello": "Hello!"}.get(prompt, "no idea")
'''


def test_cli_run_with_a_callable_then_replay(engine: Engine, db_url: str,
                                             tmp_path: Path) -> None:
    make_suite(engine, "cli-suite", [
        case("france", "Capital of France?", contains("Paris"), label="hallucination"),
        case("hello", "Say hello", CheckSpec("icontains", {"value": "hello"})),
        case("spain", "Capital of Spain?", contains("Madrid"), label="hallucination"),
    ])
    (tmp_path / "runner_cli_helper.py").write_text(CLI_HELPER)
    add_calls(engine, [{"input": "capital of FRANCE?", "output": "Paris!",
                        "model_version": "prod"}])
    script = Path(sys.executable).parent / "evalboard"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "evalboard.cli"]
    env = subprocess_env(tmp_path)

    by_callable = subprocess.run(
        [*command, "run", "cli-suite", "--model-version", "cli-v1", "--db", db_url,
         "--callable", "runner_cli_helper:generate"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    replayed = subprocess.run(
        [*command, "run", "cli-suite", "--model-version", "prod", "--db", db_url, "--replay"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)

    assert by_callable.returncode == 0, by_callable.stderr
    lines = by_callable.stdout.splitlines()
    assert lines[0] == ("run 1: cli-suite on cli-v1: 2 passed, 1 failed, 0 errors — "
                        "pass rate 66.7%")
    assert "  per label: hallucination 50%" in lines
    assert "  per check: contains 50%, icontains 100%" in lines
    assert "Traceback" not in by_callable.stderr
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.splitlines()[0] == (
        "run 2: cli-suite on prod: 1 passed, 0 failed, 0 errors, 2 without a logged call — "
        "pass rate 100.0%")
    assert "  no logged call matches: hello, spain" in replayed.stdout.splitlines()
    outputs = sorted(c.output for c in eval_calls(engine, 1))
    assert outputs == ["Hello!", "Paris.", "no idea"]
    assert [get_run(engine, i).generator for i in (1, 2)] == ["callable", "replay"]


def test_a_fast_generators_outputs_and_results_are_written_in_batches(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    drafts = [CaseDraft(name=f"case {k}", input=f"question {k}",
                        checks=(CheckSpec("contains", {"value": "question"}),))
              for k in range(120)]
    make_suite(engine, "many", drafts)
    monkeypatch.setattr(runner, "LOG_EVERY_SECONDS", 3600.0)  # only a batch's end logs
    writes: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO"):
            writes.append(statement.split()[2])

    event.listen(engine, "before_cursor_execute", note)
    try:
        summary = run_suite(engine, "many", "v1", CallableGenerator(lambda p: f"echo {p}"))
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert (summary.status, summary.passed, summary.scored) == ("finished", 120, 120)
    assert len(eval_calls(engine, summary.run_id)) == 120
    assert len(results_of(engine, summary.run_id)) == 120
    batches = -(-120 // runner.RECORD_BATCH)  # 50, 50, 20: one write of each kind per batch
    assert writes.count("calls") == batches
    assert writes.count("case_results") == writes.count("check_results") == batches
