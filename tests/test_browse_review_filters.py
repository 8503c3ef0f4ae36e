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
from tests.support.browse_rows import results_frame
from tests.support.calls import add_calls, make_rows


def _ids(at: AppTest, numbers: dict[int, int]) -> list[int]:
    """The listed calls by their number in the fixture (1-20)."""
    frame = results_frame(at)
    return [] if frame is None else [numbers[int(i)] for i in frame["id"]]


def _texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.caption, *at.markdown, *at.info, *at.warning])


def _counts(at: AppTest) -> dict[str, int]:
    frame = next(df.value for df in at.sidebar.dataframe)
    return dict(zip(frame["model version"], frame["calls"], strict=True))


@pytest.fixture
def reviewed(engine) -> dict[int, int]:
    """Calls number 1-10 of v1, 11-20 of v2 (v2's k-th logged with v1's k-th). Ann: 2 fail
    (hallucination), 3 pass, 12 fail (wrong format, corrected); Bo: 2 pass, 5 unsure
    (hallucination). Ann's verdict on 4 is undone. A test case comes from call 3. Returns
    {call id: number}."""
    ids = (add_calls(engine, make_rows(10, model_version="v1")).ids
           + add_calls(engine, make_rows(10, model_version="v2")).ids)
    call = dict(enumerate(ids, start=1))
    annotate(engine, call[2], "ann", Judgement("fail", ("hallucination",)))
    annotate(engine, call[3], "ann", Judgement("pass"))
    annotate(engine, call[12], "ann", Judgement("fail", ("wrong format",),
                                                corrected_output="fixed"))
    annotate(engine, call[4], "ann", Judgement("fail"))
    undo_last(engine, "ann")
    annotate(engine, call[2], "bo", Judgement("pass"))
    annotate(engine, call[5], "bo", Judgement("unsure", ("hallucination",)))
    create_case(engine, "regression", CaseDraft(
        name="from 3", input="prompt number 2",
        checks=(CheckSpec("contains_any", {"values": ["answer"]}),)),
        provenance=Provenance(call_id=call[3]))
    return {call_id: number for number, call_id in call.items()}


@pytest.mark.parametrize(("params", "expected"), [
    ({"verdict": "fail"}, [12, 2]),
    ({"verdict": ["pass", "unsure"]}, [5, 3, 2]),
    ({"label": "hallucination"}, [5, 2]),
    ({"by": "bo"}, [5, 2]),
    ({"by": "bo", "verdict": "fail"}, []),  # Bo's own judgement of 2 is pass
    ({"by": "ann", "verdict": "fail", "label": "hallucination"}, [2]),
    ({"reviewed": "reviewed"}, [5, 3, 12, 2]),  # same time: the larger id first
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
    assert _ids(at, reviewed) == expected
    if expected:
        assert f"of {len(expected)}" in _texts(at)
        assert sum(_counts(at).values()) == len(expected)  # the counts honour the filter
    else:
        assert "No calls match" in _texts(at)


def test_the_labels_and_verdict_columns_show_current_judgements(engine, reviewed):
    at = open_page("browse")
    frame = results_frame(at)
    assert frame is not None
    frame = frame.set_index(frame["id"].map(reviewed))
    assert list(frame.loc[2, "verdict"]) == ["pass", "fail"]  # two reviewers, both shown
    assert list(frame.loc[2, "labels"]) == ["hallucination"]
    assert list(frame.loc[12, "labels"]) == ["wrong format"]
    assert list(frame.loc[4, "verdict"]) == []  # undone
    assert list(frame.loc[1, "labels"]) == []


def test_review_widgets_filter_and_combine(engine, reviewed):
    # (the URL side of a bound widget lives in the browser: see test_browser_browse_review)
    at = open_page("browse")
    at.multiselect(key="verdict").set_value(["fail"]).run()
    assert _ids(at, reviewed) == [12, 2]
    at.multiselect(key="label").set_value(["wrong format"]).run()
    assert _ids(at, reviewed) == [12]
    at.multiselect(key="version").set_value(["v1"]).run()
    assert _ids(at, reviewed) == [] and "No calls match" in _texts(at)
    at = open_page("browse")
    at.selectbox(key="reviewed").set_value("not reviewed").run()
    assert 2 not in _ids(at, reviewed) and 4 in _ids(at, reviewed)
    at.toggle(key="promoted").set_value(True).run()
    assert _ids(at, reviewed) == []
    at.selectbox(key="reviewed").set_value("any").run()
    assert _ids(at, reviewed) == [3]
    at.toggle(key="promoted").set_value(False).run()
    at.toggle(key="corrected").set_value(True).run()
    assert _ids(at, reviewed) == [12]
    at.multiselect(key="by").set_value(["bo"]).run()
    assert _ids(at, reviewed) == []


def test_not_reviewed_with_a_verdict_says_why_nothing_matches(engine, reviewed):
    at = open_page("browse", reviewed="not reviewed", verdict="fail")
    assert _ids(at, reviewed) == []
    assert "matches no call" in " ".join(w.value for w in at.warning)
