"""Test cases: versions, provenance, filters, YAML/JSONL files and promotion from a call."""

from __future__ import annotations

import pytest

from evalboard.cases.draft import CaseDraft, CaseError
from evalboard.cases.files import CaseFileError, export_suite, import_case_file, read_case_file
from evalboard.cases.promote import promote_call
from evalboard.cases.repository import (
    CaseQuery,
    Provenance,
    case_history,
    cases_from_call,
    create_case,
    duplicate_case,
    get_case,
    list_cases,
    list_suites,
    set_active,
    update_case,
)
from evalboard.checks import CheckSpec
from evalboard.review.annotations import Judgement, annotate
from tests.support.calls import add_calls

CAESAR = "Who was Julius Caesar?"
ONE_LINERS = """\
suite: history
cases:
  - {name: caesar, input: "Who was Julius Caesar?", expect: {contains_any: [caesar, italian]}}
  - {name: no-hanks, input: "Who was Julius Caesar?", label: hallucination, expect_not: {contains_any: [tom hanks, spiderman]}}
"""  # noqa: E501 - one line per case is the point


def _draft(**changes) -> CaseDraft:
    base = CaseDraft(name="caesar", input=CAESAR,
                     checks=(CheckSpec("contains_any", {"values": ["caesar", "italian"]}),),
                     tags=("history",))
    return CaseDraft(**{**base.__dict__, **changes})


def test_edits_make_versions_and_identity_stays(engine):
    case_id = create_case(engine, "history", _draft(), author="ann")
    assert update_case(engine, case_id, _draft(), author="ann") == 1  # no change, no version
    assert update_case(engine, case_id, _draft(severity="high"), author="bob") == 2
    view = get_case(engine, case_id)
    assert (view.version, view.draft.severity, view.suite) == (2, "high", "history")
    assert get_case(engine, case_id, version=1).draft.severity == "medium"
    assert [(v, who) for v, _, who in case_history(engine, case_id)] == [(2, "bob"), (1, "ann")]


def test_names_are_unique_per_suite_and_bad_drafts_name_the_field(engine):
    create_case(engine, "history", _draft())
    with pytest.raises(CaseError, match="name"):
        create_case(engine, "history", _draft())
    create_case(engine, "other", _draft())  # another suite may reuse it
    for changes, field in [({"name": " "}, "name"), ({"input": ""}, "input"),
                           ({"mode": "maybe"}, "mode"), ({"checks": ()}, "checks"),
                           ({"checks": (CheckSpec("nope"),)}, "checks[0].type"),
                           ({"checks": (CheckSpec("regex", {}),)}, "checks[0].params.pattern"),
                           ({"threshold": 2.0}, "threshold")]:
        with pytest.raises(CaseError) as info:
            create_case(engine, "history", _draft(**{"name": "x", **changes}))
        assert info.value.field == field


def test_filters_deactivate_and_duplicate(engine):
    first = create_case(engine, "history", _draft())
    create_case(engine, "history", _draft(name="json", mode="failure", label="wrong format",
                                          tags=("format",)))
    create_case(engine, "support", _draft(name="refund", tags=("billing", "history")))
    names = lambda **q: [c.draft.name for c in list_cases(engine, CaseQuery(**q))]  # noqa: E731
    assert names(suite="history") == ["caesar", "json"]
    assert names(tag="history") == ["caesar", "refund"]
    assert names(mode="failure") == names(label="wrong format") == ["json"]
    set_active(engine, first, False)
    assert names(suite="history") == ["json"]
    assert names(suite="history", active=None) == ["caesar", "json"]
    copy = duplicate_case(engine, first)
    assert get_case(engine, copy).draft.name == "caesar (copy)"
    assert dict(list_suites(engine)) == {"history": 2, "support": 1}


def test_one_line_yaml_cases_and_round_trips(engine, tmp_path):
    path = tmp_path / "history.yaml"
    path.write_text(ONE_LINERS)
    summary = import_case_file(engine, path)
    assert (summary.created, summary.updated) == (2, 0)
    hanks = next(c for c in list_cases(engine) if c.draft.name == "no-hanks")
    assert hanks.draft.mode == "failure" and hanks.draft.label == "hallucination"
    assert hanks.draft.checks == (CheckSpec("contains_any",
                                            {"values": ["tom hanks", "spiderman"]}, negate=True),)
    assert import_case_file(engine, path).unchanged == 2  # importing again changes nothing
    for suffix in ("yaml", "jsonl"):
        out = tmp_path / f"export.{suffix}"
        assert export_suite(engine, "history", out) == 2
        again = read_case_file(out)
        assert [(s, d) for s, d in again] == [("history", c.draft) for c in list_cases(engine)]


@pytest.mark.parametrize(("text", "where", "field"), [
    ("suite: s\ncases:\n  - {name: a, input: x, expect: {contain: y}}\n", "case 1 ('a')",
     "expect.type"),
    ("suite: s\ncases:\n  - {name: a, input: x, checks: [{type: regex}]}\n", "case 1 ('a')",
     "checks[0].params.pattern"),
    ("suite: s\ncases:\n  - {name: b, input: x, expect: {contains_any: 3}}\n", "case 1 ('b')",
     "expect.params.values"),
    ("suite: s\ncases:\n  - {name: c, input: x, colour: red, expect: {contains: y}}\n",
     "case 1 ('c')", "colour"),
    ("cases:\n  - {name: d, input: x, expect: {contains: y}}\n", "case 1 ('d')", "suite"),
    ("suite: s\ncases: [\n", "line 3", ""),
])
def test_file_errors_name_the_file_the_case_and_the_field(tmp_path, text, where, field):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(CaseFileError) as info:
        read_case_file(path)
    assert (info.value.where, info.value.field) == (where, field)
    assert str(info.value).startswith("bad.yaml: ")


def test_promote_copies_input_reference_labels_and_provenance(engine):
    add_calls(engine, [{"input": [{"role": "user", "content": CAESAR}],
                        "output": "Julius Caesar starred with Tom Hanks.", "model_version": "v1"}])
    annotate(engine, 1, "ann", Judgement("fail", ("hallucination",), note="invented film",
                                         corrected_output="A Roman general and statesman."))
    promotion = promote_call(engine, 1, "ann")
    draft = promotion.draft
    assert draft.input == ({"role": "user", "content": CAESAR},)
    assert (draft.mode, draft.label, draft.references) == (
        "failure", "hallucination", ("A Roman general and statesman.",))
    assert [c.type for c in draft.checks][:1] == ["contains_any"] and draft.checks[0].negate
    assert promotion.hints  # the invented claim must be filled in
    with pytest.raises(CaseError) as refused:
        create_case(engine, "history", draft)  # an empty must-not-contain list is refused
    assert refused.value.field == "checks[0].params.values"
    filled = CaseDraft(**{**draft.__dict__, "checks": (
        CheckSpec("contains_any", {"values": ["Tom Hanks"]}, negate=True),)})
    case_id = create_case(engine, "history", filled, provenance=promotion.provenance)
    assert promotion.provenance == Provenance(1, "v1", "ann", ("hallucination",), "invented film")
    assert [c.id for c in cases_from_call(engine, 1)] == [case_id]
    assert get_case(engine, case_id).provenance.call_id == 1


# ---------------------------------------------------------------- checks validated on save


def _case_file(tmp_path, text: str, suffix: str = "yaml"):
    path = tmp_path / f"suite.{suffix}"
    path.write_text(text)
    return path


def test_is_json_true_in_the_shorthand_gets_a_message_explaining_it(tmp_path):
    path = _case_file(tmp_path,
                      "suite: s\ncases:\n  - {name: j, input: x, expect: {is_json: true}}\n")
    with pytest.raises(CaseFileError) as info:
        read_case_file(path)
    assert info.value.field == "expect.params.schema"
    message = str(info.value)
    assert "\n" not in message and "is_json" in message
    assert "`expect: {is_json: true}` the value is is_json's `schema`" in message
    assert "`expect: {is_json: {}}`" in message
    path.write_text("suite: s\ncases:\n  - {name: j, input: x, expect: {is_json: {}}}\n")
    assert read_case_file(path)[0][1].checks == (CheckSpec("is_json"),)


def test_shorthand_takes_a_mapping_of_params_or_a_main_value(tmp_path):
    path = _case_file(tmp_path, (
        "suite: s\ncases:\n"
        "  - {name: a, input: x, expect: {levenshtein: 42, is_json: {type: object},"
        " regex: {pattern: '^a', flags: i}}}\n"))
    checks = read_case_file(path)[0][1].checks
    assert checks == (CheckSpec("levenshtein", {"value": 42}),
                      CheckSpec("is_json", {"schema": {"type": "object"}}),
                      CheckSpec("regex", {"pattern": "^a", "flags": "i"}))


@pytest.mark.parametrize(("suffix", "text", "where", "field", "needle"), [
    ("yaml", "suite: s\ncases:\n  - {name: r, input: x, reference: y, "
     "expect: {rouge: {variant: rouge3}}}\n", "case 1 ('r')", "expect.params.variant",
     "rouge: expected one of rouge1"),
    ("yaml", "suite: s\ncases:\n  - {name: r, input: x, expect: {bleu: {}}}\n",
     "case 1 ('r')", "expect.references", "bleu: compares the output with a reference"),
    ("yaml", "suite: s\ncases:\n  - {name: r, input: x, reference: y,"
     " checks: [{type: bleu, threshold: -0.2}]}\n", "case 1 ('r')", "checks[0].threshold",
     "from 0 to 1"),
    ("yaml", "suite: s\ncases:\n  - {name: r, input: x, expect: {regex: 'a{99999999}'}}\n",
     "case 1 ('r')", "expect.params.pattern", "repeats too much to compile"),
    ("jsonl", '{"suite": "s", "name": "n", "input": "Ada", "expected_entities": '
     '[{"label": "PER", "text": "Bob"}], "checks": [{"type": "ner", "params": '
     '{"mode": "strict"}}]}\n', "line 1 (case 'n')", "checks[0].expected_entities",
     "not found in the input"),
    ("jsonl", '{"suite": "s", "name": "n", "input": "x", "checks": [{"type": "json_schema", '
     '"params": {"schema": {"$ref": "https://example.com/s.json"}}}]}\n',
     "line 1 (case 'n')", "checks[0].params.schema", "never fetched"),
])
def test_case_files_validate_every_check_when_read(tmp_path, suffix, text, where, field,
                                                   needle):
    path = _case_file(tmp_path, text, suffix)
    with pytest.raises(CaseFileError) as info:
        read_case_file(path)
    assert (info.value.where, info.value.field) == (where, field)
    assert needle in info.value.reason and "\n" not in str(info.value)


def _case_form_app(url: str) -> None:
    """The case editor on a rouge case without a reference, saving with create_case."""
    from evalboard.cases.draft import CaseDraft
    from evalboard.cases.repository import create_case
    from evalboard.checks import CheckSpec
    from evalboard.store import open_store
    from evalboard.ui.case_form import case_editor

    engine = open_store(url)
    draft = CaseDraft(name="needs-a-reference", input="Who was Julius Caesar?",
                      checks=(CheckSpec("rouge", {"variant": "rougeL"}),))

    def save(suite: str, edited: CaseDraft) -> str:
        return f"Saved as case {create_case(engine, suite, edited)}."

    case_editor(engine, draft, key="form", suite="history", save=save)


def test_the_case_form_shows_why_a_save_is_refused(engine, db_url):
    from streamlit.testing.v1 import AppTest

    create_case(engine, "history", _draft())  # so the suite picker offers "history"
    app = AppTest.from_function(_case_form_app, args=(db_url,), default_timeout=30).run()
    app.button(key="form_save").click().run()
    assert not app.exception
    errors = [error.value for error in app.error]
    assert errors == ["Not saved. checks[0].references: rouge: compares the output with a "
                      "reference output, and the case has none: add a reference output to "
                      "the case (or give params.value)"]
    assert [c.draft.name for c in list_cases(engine)] == ["caesar"]  # nothing stored
