"""Browse by what reviewers said, under AppTest: each review-state filter from the URL and
from its widget, combined with the other filters, the labels column and the counts."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from evalboard.cases.draft import CaseDraft
from evalboard.cases.repository import Provenance, create_case
from evalboard.checks import CheckSpec
from evalboard.review.annotations import Judgement, annotate, undo_last
from tests.support.apptest import open_page
from tests.support.calls import add_calls, make_rows


def _ids(at: AppTest) -> list[int]:
    frame = _table(at)
    return [] if frame is None else [int(i) for i in frame["id"]]


def _table(at: AppTest):
    return next((df.value for df in at.dataframe if "id" in df.value.columns), None)


def _texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.caption, *at.markdown, *at.info, *at.warning])


def _counts(at: AppTest) -> dict[str, int]:
    frame = next(df.value for df in at.sidebar.dataframe)
    return dict(zip(frame["model version"], frame["calls"], strict=True))


@pytest.fixture
def reviewed(engine):
    """Calls 1-10 of v1, 11-20 of v2. Ann: 2 fail (hallucination), 3 pass, 12 fail (wrong
    format, corrected); Bo: 2 pass, 5 unsure (hallucination). Ann's verdict on 4 is undone.
    A test case comes from call 3."""
    add_calls(engine, make_rows(10, model_version="v1"))
    add_calls(engine, make_rows(10, model_version="v2"))
    annotate(engine, 2, "ann", Judgement("fail", ("hallucination",)))
    annotate(engine, 3, "ann", Judgement("pass"))
    annotate(engine, 12, "ann", Judgement("fail", ("wrong format",), corrected_output="fixed"))
    annotate(engine, 4, "ann", Judgement("fail"))
    undo_last(engine, "ann")
    annotate(engine, 2, "bo", Judgement("pass"))
    annotate(engine, 5, "bo", Judgement("unsure", ("hallucination",)))
    create_case(engine, "regression", CaseDraft(
        name="from 3", input="prompt number 2",
        checks=(CheckSpec("contains_any", {"values": ["answer"]}),)),
        provenance=Provenance(call_id=3))


@pytest.mark.parametrize(("params", "expected"), [
    ({"verdict": "fail"}, [12, 2]),
    ({"verdict": ["pass", "unsure"]}, [5, 3, 2]),
    ({"label": "hallucination"}, [5, 2]),
    ({"by": "bo"}, [5, 2]),
    ({"by": "bo", "verdict": "fail"}, []),  # Bo's own judgement of 2 is pass
    ({"by": "ann", "verdict": "fail", "label": "hallucination"}, [2]),
    ({"reviewed": "reviewed"}, [5, 3, 12, 2]),
    ({"reviewed": "not reviewed", "version": "v1"}, [10, 9, 8, 7, 6, 4, 1]),  # 4: undone
    ({"reviewed": "not reviewed", "by": "bo", "version": "v2"}, list(range(20, 10, -1))),
    ({"corrected": "true"}, [12]),
    ({"promoted": "true"}, [3]),
    ({"verdict": "fail", "version": "v2"}, [12]),
    ({"verdict": "fail", "q": "number"}, [12, 2]),
    ({"label": "hallucination", "sort": "oldest"}, [2, 5]),
])
def test_review_state_filters_from_the_url(engine, reviewed, params, expected):
    at = open_page("browse", **params)
    assert not at.exception
    assert _ids(at) == expected
    if expected:
        assert f"of {len(expected)}" in _texts(at)
        assert sum(_counts(at).values()) == len(expected)  # the counts honour the filter
    else:
        assert "No calls match" in _texts(at)


def test_the_labels_and_verdict_columns_show_current_judgements(engine, reviewed):
    at = open_page("browse")
    frame = _table(at).set_index("id")
    assert list(frame.loc[2, "verdict"]) == ["pass", "fail"]  # two reviewers, both shown
    assert list(frame.loc[2, "labels"]) == ["hallucination"]
    assert list(frame.loc[12, "labels"]) == ["wrong format"]
    assert list(frame.loc[4, "verdict"]) == []  # undone
    assert list(frame.loc[1, "labels"]) == []


def test_review_widgets_filter_and_combine(engine, reviewed):
    # (the URL side of a bound widget lives in the browser: see test_browser_browse_review)
    at = open_page("browse")
    at.multiselect(key="verdict").set_value(["fail"]).run()
    assert _ids(at) == [12, 2]
    at.multiselect(key="label").set_value(["wrong format"]).run()
    assert _ids(at) == [12]
    at.multiselect(key="version").set_value(["v1"]).run()
    assert _ids(at) == [] and "No calls match" in _texts(at)
    at = open_page("browse")
    at.selectbox(key="reviewed").set_value("not reviewed").run()
    assert 2 not in _ids(at) and 4 in _ids(at)
    at.toggle(key="promoted").set_value(True).run()
    assert _ids(at) == []
    at.selectbox(key="reviewed").set_value("any").run()
    assert _ids(at) == [3]
    at.toggle(key="promoted").set_value(False).run()
    at.toggle(key="corrected").set_value(True).run()
    assert _ids(at) == [12]
    at.multiselect(key="by").set_value(["bo"]).run()
    assert _ids(at) == []


def test_not_reviewed_with_a_verdict_says_why_nothing_matches(engine, reviewed):
    at = open_page("browse", reviewed="not reviewed", verdict="fail")
    assert _ids(at) == []
    assert "matches no call" in " ".join(w.value for w in at.warning)
