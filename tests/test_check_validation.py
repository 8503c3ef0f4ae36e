"""Checks are validated when a case is saved, from their declarations, and bounded when run.

The registry walk is the net: every parameter of every check gets hostile values, and
whatever a save accepts must run without an error result.
"""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from evalboard.cases.draft import CaseDraft, CaseError
from evalboard.cases.repository import create_case
from evalboard.checks import CheckContext, CheckError, CheckSpec, run_check, validate_spec
from evalboard.checks.base import CheckOutcome, catalogue

REPO_ROOT = Path(__file__).resolve().parents[1]
TEXT = "Ada Lovelace lives in London."
CASE = CheckContext(input=TEXT, references=(TEXT,),
                    expected_entities=({"label": "PER", "text": "Ada Lovelace"},),
                    latency_ms=5.0, prompt_tokens=3, completion_tokens=4)
OUTPUT = TEXT

# The smallest spec of every check that saves and runs; a new check must add its own.
EXAMPLES: dict[str, dict[str, Any]] = {
    "equals": {"value": "x"}, "contains": {"value": "x"}, "icontains": {"value": "x"},
    "contains_any": {"values": ["x"]}, "icontains_any": {"values": ["x"]},
    "contains_all": {"values": ["x"]}, "icontains_all": {"values": ["x"]},
    "starts_with": {"value": "x"}, "ends_with": {"value": "x"}, "regex": {"pattern": "x"},
    "word_count": {"max": 3}, "char_count": {"max": 3}, "token_count": {"max": 3},
    "levenshtein": {"value": "x"}, "refusal": {}, "is_json": {},
    "json_schema": {"schema": {"type": "object"}}, "json_path": {"path": "$.a"},
    "is_valid_python": {}, "is_sql": {}, "is_xml": {}, "contains_json": {}, "contains_xml": {},
    "rouge": {}, "bleu": {}, "chrf": {}, "exact_match": {}, "token_f1": {}, "ner": {},
    "semantic_similarity": {}, "insult": {}, "garbled": {}, "language": {"expected": "en"},
    "latency": {"max_ms": 100}, "token_usage": {"max_total_tokens": 10}, "no_error": {},
    "custom": {"function": "tests.test_check_validation:always_passes"},
    "judge": {"judge": "hallucination"},
}
# Parameters naming a file or module: whether it exists is only known where the suite runs.
WHERE_IT_RUNS = {"model", "tokenizer", "function", "judge"}
# A limit on the output itself: an output above it is an error result by design.
OUTPUT_LIMITS = {("is_sql", "max_chars")}
HOSTILE: list[Any] = ["", "bogus", " ", -1, 0, 0.5, 1.5, 3, 10**12, -(10**12), math.nan,
                      math.inf, -math.inf, True, False, None, [], ["bogus"], [""], [1], {},
                      {"a": 1}]


def always_passes(output: str, params: Any, context: Any) -> bool:
    return True


class _UnitEmbedder:
    """Stands in for the sentence-embedding model: these tests are about validation, and
    loading the model would cost seconds of CPU per worker."""

    def embed(self, texts: Any) -> Any:
        import numpy as np

        return np.ones((len(texts), 4), dtype=np.float32) / 2


@pytest.fixture(autouse=True)
def _no_embedding_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from evalboard.checks import model_based

    monkeypatch.setattr(model_based, "_embedder", lambda directory: _UnitEmbedder())


@pytest.fixture(autouse=True)
def _no_judge_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """A judge answers from its store and backend (tests/test_judge_check.py): here a
    stand-in that passes, as for the embedder."""
    from evalboard.checks import judge

    monkeypatch.setattr(judge, "run_judge", lambda ref, output, context: CheckOutcome(
        True, 1.0, f"judge {ref}: pass"))


def _accepted(spec: CheckSpec) -> bool:
    try:
        validate_spec(spec, CASE)
    except CheckError as exc:
        message = str(exc)
        assert "\n" not in message, message
        assert exc.reason.startswith(f"{spec.type}: "), message  # names the check
        assert exc.field.startswith(("params.", "threshold", "weight", "references", "input",
                                     "expected_entities")), message  # names the field
        return False
    return True


def test_every_check_has_an_example_that_saves_and_runs() -> None:
    assert set(EXAMPLES) == set(catalogue())
    for name, params in EXAMPLES.items():
        spec = CheckSpec(name, params)
        validate_spec(spec, CASE)
        assert run_check(spec, OUTPUT, CASE).error is None, name


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_parameter_accepted_when_saved_never_errors_when_run(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO_ROOT))
    check = catalogue()[name]
    for param in check.params:
        if param in WHERE_IT_RUNS or (name, param) in OUTPUT_LIMITS:
            continue
        for value in HOSTILE:
            spec = CheckSpec(name, {**EXAMPLES[name], param: value})
            if _accepted(spec):
                result = run_check(spec, OUTPUT, CASE)
                assert result.error is None, f"{name} {param}={value!r}: {result.error}"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_threshold_is_range_checked_with_the_range_in_the_message(name: str) -> None:
    from evalboard.checks.base import SCORE

    check = catalogue()[name]
    bad = [-0.2, math.nan, math.inf] + ([1.5] if check.threshold_range.high is not None else [])
    for threshold in bad:
        with pytest.raises(CheckError) as refused:
            validate_spec(CheckSpec(name, EXAMPLES[name], threshold=threshold))
        assert refused.value.field == "threshold"
        if check.threshold_range == SCORE:
            assert "from 0 to 1" in refused.value.reason
    validate_spec(CheckSpec(name, EXAMPLES[name], threshold=check.threshold_range.low))


@pytest.mark.parametrize(("check", "threshold"), [("bleu", -0.2), ("rouge", 1.5)])
def test_the_thresholds_of_the_issue_are_refused_when_saved(engine, check: str,
                                                            threshold: float) -> None:
    draft = CaseDraft(name="t", input="x", references=("a reference",),
                      checks=(CheckSpec(check, threshold=threshold),))
    with pytest.raises(CaseError) as refused:
        create_case(engine, "s", draft)
    assert refused.value.field == "checks[0].threshold"
    assert f"{check}: the threshold is a minimum score, from 0 to 1" in refused.value.reason


@pytest.mark.parametrize(("check", "param", "value", "allowed"), [
    ("rouge", "variant", "rouge3", "rouge1, rouge2, rougeL, rougeLsum"),
    ("rouge", "measure", "f1", "precision, recall, fmeasure"),
    ("bleu", "tokenize", "spm", "13a, intl, zh, char, none"),
    ("chrf", "word_order", 3, "0, 1, 2"),
    ("ner", "mode", "fuzzy", "strict, exact, partial, ent_type"),
    ("ner", "metric", "accuracy", "f1, precision, recall"),
    ("ner", "format", "csv", "json, tagged, model"),
])
def test_enumerations_are_refused_when_saved(engine, check: str, param: str, value: Any,
                                             allowed: str) -> None:
    assert catalogue()[check].params[param].choices
    draft = CaseDraft(name="e", input=TEXT, references=("a reference",),
                      checks=(CheckSpec(check, {param: value}),))
    with pytest.raises(CaseError) as refused:
        create_case(engine, "s", draft)
    assert refused.value.field == f"checks[0].params.{param}"
    assert refused.value.reason == f"{check}: expected one of {allowed}, got {value!r}"


REFERENCE_CHECKS = ["rouge", "bleu", "chrf", "exact_match", "token_f1", "semantic_similarity"]


@pytest.mark.parametrize("check", REFERENCE_CHECKS)
def test_reference_checks_need_a_reference_when_saved(engine, check: str) -> None:
    without = CaseDraft(name="r", input="x", references=("  ",), checks=(CheckSpec(check),))
    with pytest.raises(CaseError) as refused:
        create_case(engine, "s", without)
    assert refused.value.field == "checks[0].references"
    assert refused.value.reason.startswith(f"{check}: ") and "reference" in refused.value.reason
    create_case(engine, "s", CaseDraft(name="inline", input="x",
                                       checks=(CheckSpec(check, {"value": "a text"}),)))
    create_case(engine, "s", CaseDraft(name="case-ref", input="x", references=("a text",),
                                       checks=(CheckSpec(check),)))


def test_ner_entities_and_model_format_are_checked_when_saved(engine) -> None:
    def draft(spec: CheckSpec, entities: tuple[dict[str, Any], ...]) -> CaseDraft:
        return CaseDraft(name="n", input=TEXT, checks=(spec,), expected_entities=entities)

    with pytest.raises(CaseError, match="not found in the input") as missing:
        create_case(engine, "s", draft(CheckSpec("ner"), ({"label": "PER", "text": "Bob"},)))
    assert missing.value.field == "checks[0].expected_entities"
    with pytest.raises(CaseError) as no_model:
        create_case(engine, "s", draft(CheckSpec("ner", {"format": "model"}), ()))
    assert no_model.value.field == "checks[0].params.model"
    create_case(engine, "s", draft(CheckSpec("ner"), ({"label": "PER", "text": "Ada"},)))


@pytest.mark.parametrize(("spec", "field"), [
    (CheckSpec("latency"), "params.max_ms"),  # no limit at all: an error on every run before
    (CheckSpec("latency", threshold=-5), "threshold"),
    (CheckSpec("levenshtein", {"value": "x"}, threshold=-1), "threshold"),
    (CheckSpec("custom", {"function": "m:f", "timeout_s": 10**12}), "params.timeout_s"),
    (CheckSpec("custom", {"function": "m:f", "timeout_s": math.inf}), "params.timeout_s"),
    (CheckSpec("garbled", {"max_repetition": 1.5}), "params.max_repetition"),
    (CheckSpec("language", {"expected": "klingon"}), "params.expected"),
    (CheckSpec("contains", {"value": "x"}, weight=math.nan), "weight"),
    (CheckSpec("is_xml", {"required_elements": ["a..b"]}), "params.required_elements"),
])
def test_values_that_failed_every_run_are_refused_when_saved(spec: CheckSpec,
                                                             field: str) -> None:
    with pytest.raises(CheckError) as refused:
        validate_spec(spec)
    assert refused.value.field == field
    assert refused.value.reason.startswith(f"{spec.type}: ")


def test_latency_takes_its_limit_from_the_threshold_or_max_ms() -> None:
    validate_spec(CheckSpec("latency", threshold=200))
    validate_spec(CheckSpec("latency", {"max_ms": 200}))
    fast = CheckContext(latency_ms=50)
    assert run_check(CheckSpec("latency", threshold=100), "", fast).passed


# ---------------------------------------------------------------- JSON schemas


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test."""
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"tried the network: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("check", ["json_schema", "is_json", "contains_json"])
@pytest.mark.parametrize(("schema", "needle"), [
    ({"$ref": "https://example.com/schema.json"}, "points outside the schema"),
    ({"properties": {"a": {"$ref": "other.json#/x"}}}, "points outside the schema"),
    ({"$id": "https://example.com/root.json", "items": {"$ref": "https://evil.test/s"}},
     "never fetched"),
    ({"properties": {"a": {"$ref": "#/$defs/missing"}}}, "points to nothing"),
    ({"type": "wrong"}, "invalid JSON schema"),
    ({"minimum": "zero"}, "invalid JSON schema"),
])
def test_schemas_are_validated_as_schemas_when_saved(check: str, schema: dict[str, Any],
                                                     needle: str) -> None:
    with pytest.raises(CheckError) as refused:
        CheckSpec.from_dict({"type": check, "params": {"schema": schema}})
    assert refused.value.field == "params.schema" and needle in refused.value.reason


@pytest.mark.usefixtures("no_network")
def test_local_refs_and_bundled_metaschemas_are_accepted() -> None:
    schema = {
        "$id": "https://example.com/root.json",
        "$defs": {"name": {"type": "string"}},
        "properties": {
            "name": {"$ref": "#/$defs/name"},
            "inner": {"$id": "inner.json", "$defs": {"n": {"type": "integer"}},
                      "items": {"$ref": "#/$defs/n"}},
            "again": {"$ref": "inner.json#/$defs/n"},
            "meta": {"$ref": "https://json-schema.org/draft/2020-12/schema"},
        },
        "enum": [{"$ref": "https://not-a-schema.test/only-a-value"}],  # a value, not a ref
    }
    spec = CheckSpec.from_dict({"type": "json_schema", "params": {"schema": schema}})
    assert run_check(spec, '{"name": "Ada"}', CheckContext()).error is None


# ---------------------------------------------------------------- regex


def test_a_huge_repeat_is_refused_when_saved_without_compiling(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from evalboard.checks import regex_bounds

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("compiled a pattern that should have been refused")

    monkeypatch.setattr(regex_bounds.regex, "compile", never)
    for pattern in ("a{99999999}", "(?:a{1000}){1000}", "x(?:(?:ab){300}c){300}",
                    "(?=a{99999})"):
        with pytest.raises(CheckError) as refused:
            CheckSpec.from_dict({"type": "regex", "params": {"pattern": pattern}})
        assert refused.value.field == "params.pattern"
        assert "repeats too much to compile" in refused.value.reason


BOUNDED_COMPILE = textwrap.dedent("""
    import resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))
    from evalboard.checks import CheckError, CheckSpec, validate_spec
    started = time.perf_counter()
    for pattern in ("a{99999999}", "(?:a{9999}){9999}", "((a{100}){100}){100}",
                    "[a-z]{50001}", "(?i)" + "a" * 20000):
        try:
            validate_spec(CheckSpec("regex", {"pattern": pattern}))
        except CheckError as exc:
            assert exc.field == "params.pattern", exc
        else:
            sys.exit(f"accepted {pattern[:30]}")
    print(f"{time.perf_counter() - started:.3f}")
""")


def test_hostile_patterns_are_refused_within_a_memory_limit() -> None:
    """Run where memory is capped at 1.5 GB: compiling a{99999999} would need ~27 GB."""
    done = subprocess.run([sys.executable, "-c", BOUNDED_COMPILE], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout
    assert float(done.stdout.strip().splitlines()[-1]) < 5


def test_patterns_within_the_bounds_still_compile_and_match() -> None:
    for pattern, output in (("a{40000}", "a" * 40000), (r"\d{3}-\d{4}", "555-1234"),
                            ("x{0,99999999}y", "xxy"), ("(?i)refund", "REFUND")):
        spec = CheckSpec.from_dict({"type": "regex", "params": {"pattern": pattern}})
        assert run_check(spec, output, CheckContext()).passed, pattern


def test_regex_length_and_timeout_have_upper_bounds() -> None:
    with pytest.raises(CheckError, match="at most 10,000") as long:
        validate_spec(CheckSpec("regex", {"pattern": "a" * 10_001}))
    assert long.value.field == "params.pattern"
    with pytest.raises(CheckError, match="above 0 and at most 60") as slow:
        validate_spec(CheckSpec("regex", {"pattern": "a", "timeout_s": 61}))
    assert slow.value.field == "params.timeout_s"
    validate_spec(CheckSpec("regex", {"pattern": "a", "timeout_s": 60}))


@pytest.mark.parametrize(("pattern", "hint"), [
    ("/refund/i", "'(?i)refund'"), ("/^yes$/gm", "'(?m)^yes$'"), ("/a+b/g", "'a+b'")])
def test_javascript_regex_literals_are_refused_with_the_inline_flag_hint(pattern: str,
                                                                         hint: str) -> None:
    with pytest.raises(CheckError) as refused:
        validate_spec(CheckSpec("regex", {"pattern": pattern}))
    assert "JavaScript regex literal" in refused.value.reason and hint in refused.value.reason


def test_a_pattern_with_slashes_that_is_no_literal_is_kept() -> None:
    assert run_check(CheckSpec("regex", {"pattern": "/api/v1/"}), "GET /api/v1/",
                     CheckContext()).passed


# ---------------------------------------------------------------- messages


def test_messages_are_one_line_and_name_the_check_and_the_field() -> None:
    spec = CheckSpec("json_path", {"path": "$..[\n"})
    with pytest.raises(CheckError) as refused:
        validate_spec(spec)
    assert "\n" not in str(refused.value) and refused.value.field == "params.path"
    assert refused.value.reason.startswith("json_path: ")
