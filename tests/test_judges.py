"""Judge mechanics offline: templates, parsing, the fake OpenAI-compatible server (scripted
and malformed answers, retries, the cache), the tiny local GPT-2, versions and the check."""

from __future__ import annotations

import json

import pytest

from evalboard.checks import CheckContext, CheckSpec, run_check, validate_spec
from evalboard.judges import cache
from evalboard.judges.backends import BackendSpec, TransformersBackend
from evalboard.judges.binding import use_store
from evalboard.judges.errors import JudgeError, JudgeParseError
from evalboard.judges.judging import JudgeItem, JudgeRunner
from evalboard.judges.parsing import parse_verdict
from evalboard.judges.repository import (
    JudgeDefinition,
    create_judge,
    get_version,
    history,
    list_judges,
    new_version,
    resolve,
)
from evalboard.judges.templates import PromptFields, render, validate_template
from evalboard.review.guidelines import set_guidelines
from tests.support.fake_openai import FAIL, PASS, Reply, fake_openai
from tests.support.judge_stores import TEMPLATE, openai_backend, openai_judge

# ---------------------------------------------------------------- templates


def test_a_template_renders_its_fields_as_plain_text() -> None:
    prompt = render("In: {input} | Out: {output} | {{literal}} | {label}",
                    PromptFields(input="what is {output}?", output="42", label="garbled"))
    assert prompt == "In: what is {output}? | Out: 42 | {literal} | garbled"


@pytest.mark.parametrize(("template", "needle"), [
    ("{output} {answer}", "unknown field {answer}"),
    ("{output} {input.__class__}", "not a plain field"),
    ("{output} {input[0]}", "not a plain field"),
    ("{output!r}", "not a plain field"),
    ("{output:>10}", "not a plain field"),
    ("{output", "literal brace"),
    ("Judge {input}", "add {output}"),
    ("   ", "needs a prompt template"),
])
def test_bad_templates_are_refused_with_a_clear_line(template: str, needle: str) -> None:
    with pytest.raises(JudgeError) as refused:
        validate_template(template)
    assert needle in str(refused.value) and "\n" not in str(refused.value)


def test_an_unknown_field_is_refused_when_the_judge_is_saved(engine) -> None:
    backend = openai_backend("http://127.0.0.1:9/v1")
    with pytest.raises(JudgeError, match="unknown field {answer}"):
        create_judge(engine, "j", JudgeDefinition("{output} {answer}", backend))
    assert list_judges(engine) == []


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(("raw", "passed", "score", "reason"), [
    ('{"verdict": "pass", "score": 0.9, "reason": "fine"}', True, 0.9, "fine"),
    ('```json\n{"verdict": "FAIL", "reason": "made up"}\n```', False, 0.0, "made up"),
    ('Sure! Here you go: {"verdict": "fail"} Hope it helps {', False, 0.0, ""),
    ('{"note": 1} then {"verdict": true}', True, 1.0, ""),
])
def test_verdicts_are_read_from_structured_answers(raw: str, passed: bool, score: float,
                                                   reason: str) -> None:
    assert parse_verdict(raw) == (parsed := parse_verdict(raw))
    assert (parsed.passed, parsed.score, parsed.reason) == (passed, score, reason)


def test_score_mode_passes_at_the_threshold_and_takes_a_bare_number() -> None:
    assert parse_verdict('{"score": 0.7}', "score", 0.7).passed
    assert not parse_verdict('{"score": 0.69}', "score", 0.7).passed
    assert parse_verdict("0.8", "score").score == 0.8


@pytest.mark.parametrize(("raw", "needle"), [
    ("I think it passes.", "holds no JSON verdict"),
    ('{"verdict": "maybe"}', 'must be "pass" or "fail"'),
    ('{"verdict": "pass", "score": 7}', "from 0 to 1"),
    ('{"verdict": "pass", "score": "high"}', "not a number"),
])
def test_an_answer_without_a_verdict_is_a_parse_error_with_the_raw_text(raw: str,
                                                                        needle: str) -> None:
    with pytest.raises(JudgeParseError) as refused:
        parse_verdict(raw)
    assert needle in str(refused.value) and refused.value.raw == raw


def test_score_mode_needs_a_score() -> None:
    with pytest.raises(JudgeParseError, match="no score"):
        parse_verdict('{"verdict": "pass"}', "score")


# ---------------------------------------------------------------- backends and the cache


def test_a_key_is_never_stored_only_its_variable_name(engine) -> None:
    with pytest.raises(JudgeError, match="never stored"):
        BackendSpec.from_dict({"kind": "openai", "base_url": "http://x/v1", "model": "m",
                               "api_key": "sk-secret"})
    with pytest.raises(JudgeError, match="backend.api_key_env"):
        BackendSpec(kind="openai", base_url="http://x/v1", model="m",
                    api_key_env="not a name").validate()


def test_the_key_comes_from_the_named_environment_variable(engine, monkeypatch) -> None:
    monkeypatch.setenv("JUDGE_TEST_KEY", "sk-from-env")
    with fake_openai([PASS]) as server:
        version = openai_judge(engine, server.url, api_key_env="JUDGE_TEST_KEY")
        JudgeRunner(engine, version).judge(JudgeItem("q", "a"))
        assert server.headers_seen[0]["authorization"] == "Bearer sk-from-env"
    stored = json.dumps(version.definition.backend.to_dict())
    assert "sk-from-env" not in stored and "JUDGE_TEST_KEY" in stored
    monkeypatch.delenv("JUDGE_TEST_KEY")
    outcome = JudgeRunner(engine, version).judge(JudgeItem("q", "another"))
    assert outcome.error and "$JUDGE_TEST_KEY, which is not set" in outcome.error


def test_the_prompt_carries_the_call_label_and_guidelines(engine) -> None:
    set_guidelines(engine, "Be strict about dates.")
    template = TEMPLATE + "\nGuidelines: {guidelines}\nReference: {reference}"
    with fake_openai([FAIL]) as server:
        version = openai_judge(engine, server.url, template=template)
        outcome = JudgeRunner(engine, version).judge(JudgeItem(
            [{"role": "user", "content": "When did Rome fall?"}], "In 1999.", "In 476."))
        prompt = server.prompts()[0]
    assert (outcome.verdict, outcome.reason) == ("fail", "states a false fact")
    assert "user: When did Rome fall?" in prompt and "Output: In 1999." in prompt
    assert "Label hallucination: States facts" in prompt
    assert "Guidelines: Be strict about dates." in prompt and "Reference: In 476." in prompt
    assert server.requests[0]["model"] == "judge-model"


def test_malformed_answers_are_retried_counted_and_the_rerun_is_free(engine) -> None:
    with fake_openai(["not json at all", '{"verdict": "perhaps"}', PASS]) as server:
        version = openai_judge(engine, server.url, max_retries=2)
        first = JudgeRunner(engine, version).judge(JudgeItem("q", "a", call_id=None))
        assert (first.verdict, first.attempts, first.cached) == ("pass", 3, False)
        assert len(server.requests) == 3
        again = JudgeRunner(engine, version)
        second = again.judge(JudgeItem("q", "a"))
        assert (second.verdict, second.cached, again.backend_calls) == ("pass", True, 0)
        assert len(server.requests) == 3  # zero backend calls the second time


def test_an_answer_that_never_parses_is_an_error_kept_with_the_raw_text(engine) -> None:
    with fake_openai(["the output is fine I guess"]) as server:
        version = openai_judge(engine, server.url, max_retries=1)
        outcome = JudgeRunner(engine, version).judge(JudgeItem("q", "a"))
        assert outcome.verdict is None and outcome.attempts == 2
        assert "holds no JSON verdict" in outcome.error and "after 2 attempts" in outcome.error
        assert outcome.raw_answer == "the output is fine I guess"
        server.script(PASS)  # an error is not a cache hit: the next run asks again
        assert JudgeRunner(engine, version).judge(JudgeItem("q", "a")).verdict == "pass"
        assert len(server.requests) == 3


def test_server_errors_are_retried_and_client_errors_are_not(engine) -> None:
    with fake_openai([Reply(status=503), Reply(status=500), FAIL]) as server:
        version = openai_judge(engine, server.url, max_retries=2)
        assert JudgeRunner(engine, version).judge(JudgeItem("q", "a")).verdict == "fail"
        assert len(server.requests) == 3
        server.script(Reply(status=400, text="bad model"))
        refused = JudgeRunner(engine, version).judge(JudgeItem("q", "b"))
        assert "HTTP 400" in refused.error and refused.attempts == 1
        assert len(server.requests) == 4


def test_a_slow_server_times_out_and_an_unreachable_one_is_an_error(engine) -> None:
    with fake_openai([Reply(text=PASS, delay_s=2.0)]) as server:
        version = openai_judge(engine, server.url, timeout_s=0.3, max_retries=0)
        assert "after 1 attempt" in JudgeRunner(engine, version).judge(JudgeItem("q", "a")).error
    gone = openai_judge(engine, server.url, name="gone", max_retries=1)
    outcome = JudgeRunner(engine, gone).judge(JudgeItem("q", "a"))
    assert outcome.error and "Connection" in outcome.error and outcome.attempts == 2


def test_the_cache_key_is_version_prompt_and_output(engine) -> None:
    with fake_openai([PASS]) as server:
        version = openai_judge(engine, server.url)
        runner = JudgeRunner(engine, version)
        runner.judge(JudgeItem("q", "a"))
        runner.judge(JudgeItem("q", "b"))  # another output
        runner.judge(JudgeItem("other q", "a"))  # another prompt
        runner.judge(JudgeItem("q", "a"))
        assert len(server.requests) == 3
        newer = new_version(engine, "hallucination", version.definition, note="same text")
        JudgeRunner(engine, newer).judge(JudgeItem("q", "a"))  # another version
        assert len(server.requests) == 4
    key = (version.id, cache.digest(runner.prompt(JudgeItem("q", "a"))), cache.digest("a"))
    assert cache.lookup(engine, *key).verdict == "pass"


# ---------------------------------------------------------------- versions


def test_versions_are_immutable_and_named_by_number_or_id(engine) -> None:
    first = openai_judge(engine, "http://127.0.0.1:9/v1")
    edited = new_version(engine, "hallucination", JudgeDefinition(
        TEMPLATE + " Be strict.", first.definition.backend, "score", 0.7), note="stricter")
    assert (first.version, edited.version, edited.parent_id) == (1, 2, first.id)
    assert get_version(engine, "hallucination").id == edited.id
    assert resolve(engine, "hallucination@1").definition.template == TEMPLATE
    assert resolve(engine, f"#{edited.id}").definition.threshold == 0.7
    assert [v.version for v in history(engine, "hallucination")] == [2, 1]
    with pytest.raises(JudgeError, match="already a judge"):
        openai_judge(engine, "http://127.0.0.1:9/v1")
    with pytest.raises(JudgeError, match="no judge 'nope'; judges: hallucination"):
        resolve(engine, "nope")
    with pytest.raises(JudgeError, match="no label 'bogus'"):
        openai_judge(engine, "http://127.0.0.1:9/v1", name="x", label="bogus")


# ---------------------------------------------------------------- the judge check


def test_the_judge_check_grades_through_the_bound_store_and_caches(engine) -> None:
    spec = CheckSpec("judge", {"judge": "hallucination"})
    validate_spec(spec)
    context = CheckContext(input="Who wrote Hamlet?")
    with fake_openai([FAIL, PASS]) as server, use_store(engine):
        version = openai_judge(engine, server.url)
        failed = run_check(spec, "Charles Dickens.", context)
        passed = run_check(spec, "Shakespeare.", context)
        again = run_check(spec, "Charles Dickens.", context)
        negated = run_check(CheckSpec("judge", {"judge": "hallucination@1"}, negate=True),
                            "Charles Dickens.", context)
    assert not failed.passed and failed.error is None
    assert failed.reason == "judge hallucination@1: fail: states a false fact"
    assert passed.passed and again.reason.endswith("fail (cached): states a false fact")
    assert negated.passed and negated.judge_version_id == version.id
    assert failed.judge_version_id == version.id and len(server.requests) == 2


def test_the_judge_check_reports_a_missing_judge_or_bad_answer_as_an_error(engine) -> None:
    with use_store(engine):
        missing = run_check(CheckSpec("judge", {"judge": "nope"}), "x", CheckContext())
        assert "no judge 'nope'" in missing.error
        with fake_openai(["no verdict here"]) as server:
            openai_judge(engine, server.url, max_retries=0)
            bad = run_check(CheckSpec("judge", {"judge": "hallucination"}), "x", CheckContext())
    assert "holds no JSON verdict" in bad.error and "'no verdict here'" in bad.error


# ---------------------------------------------------------------- the local checkpoint


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    from tests.tiny_models import save_tiny_gpt2

    return save_tiny_gpt2(tmp_path_factory.mktemp("judge-gpt2"))


def test_a_local_checkpoint_answers_offline_and_its_noise_is_a_parse_error(engine, tiny_gpt2
                                                                           ) -> None:
    spec = BackendSpec(kind="transformers", model_dir=str(tiny_gpt2), max_tokens=8,
                       max_retries=1, backoff_s=0.0)
    text = TransformersBackend(spec).complete("the cat sat on the mat " * 40)  # cut to fit
    assert isinstance(text, str)
    version = create_judge(engine, "local", JudgeDefinition(TEMPLATE, spec))
    runner = JudgeRunner(engine, version)
    outcome = runner.judge(JudgeItem("the cat", "the dog"))
    assert outcome.verdict is None and outcome.attempts == 2 and runner.backend_calls == 2
    assert "holds no JSON verdict" in outcome.error


def test_a_checkpoint_directory_that_is_missing_is_one_line(engine, tmp_path) -> None:
    spec = BackendSpec(kind="transformers", model_dir=str(tmp_path / "none"), max_retries=0)
    version = create_judge(engine, "missing", JudgeDefinition(TEMPLATE, spec))
    outcome = JudgeRunner(engine, version).judge(JudgeItem("q", "a"))
    assert "cannot load the judge's checkpoint" in outcome.error and "\n" not in outcome.error


def test_a_suite_case_with_a_judge_check_runs_and_a_rerun_asks_nothing(tmp_path) -> None:
    """On a store that is not the configured one: the runner binds its own store."""
    from evalboard.cases.draft import CaseDraft
    from evalboard.cases.repository import create_case
    from evalboard.runs.generators import CallableGenerator
    from evalboard.runs.runner import run_suite
    from evalboard.store import open_store

    engine = open_store(f"sqlite:///{tmp_path / 'suite.db'}")
    spec = CheckSpec.from_dict({"type": "judge", "params": {"judge": "hallucination"}})
    for name in ("caesar", "hamlet"):
        create_case(engine, "history", CaseDraft(name=name, input=f"Who was {name}?",
                                                 label="hallucination", mode="failure",
                                                 checks=(spec,)))
    generator = CallableGenerator("tests.tiny_models:echo_model")
    with fake_openai(answer=lambda body: FAIL if "caesar" in body["messages"][-1]["content"]
                     else PASS) as server:
        openai_judge(engine, server.url)
        first = run_suite(engine, "history", "v1", generator)
        second = run_suite(engine, "history", "v2", generator)
        replayed = run_suite(engine, "history", "v1", None)  # the logged outputs again
    engine.dispose()
    assert (first.passed, first.failed, first.errors) == (1, 1, 0)
    assert (second.passed, second.failed) == (1, 1)
    assert (replayed.passed, replayed.failed, replayed.errors) == (1, 1, 0)
    assert len(server.requests) == 2  # the same outputs again: answered from the cache


def test_retries_wait_longer_each_time(engine) -> None:
    waits: list[float] = []
    with fake_openai([Reply(status=503)]) as server:
        version = openai_judge(engine, server.url, max_retries=3, backoff_s=0.5)
        outcome = JudgeRunner(engine, version, sleep=waits.append).judge(JudgeItem("q", "a"))
    assert waits == [0.5, 1.0, 2.0] and outcome.attempts == 4 and len(server.requests) == 4
    assert "InternalServerError" in outcome.error


def test_a_bound_store_reaches_checks_on_worker_threads_and_the_configured_one_is_the_default(
        engine, db_url, tmp_path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from evalboard.judges.binding import judge_store
    from evalboard.store import open_store

    assert str(judge_store().url) == str(engine.url)  # $EVALBOARD_DB_URL, set by db_url
    other = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    spec = CheckSpec("judge", {"judge": "hallucination"})
    with fake_openai([FAIL]) as server:
        openai_judge(other, server.url)
        with use_store(other), ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda n: run_check(spec, f"output {n}", CheckContext()),
                                    range(8)))
    assert [r.passed for r in results] == [False] * 8 and all(r.error is None for r in results)
    assert str(judge_store().url) == str(engine.url)  # the binding ended with its block
    other.dispose()
