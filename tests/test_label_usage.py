"""One definition of how often a label is used, on Home and on Settings: the calls on which a
current judgement carries the label, each call once, out of the judged calls."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from evalboard.review.annotations import Judgement, annotate
from evalboard.review.labels import USAGE_DEFINITION, label_usage
from tests.support.apptest import open_page
from tests.support.calls import add_calls, make_rows


@pytest.fixture
def reviewed(engine):
    """Call 1: four judgements by three reviewers, all with hallucination; call 2: a
    hallucination its reviewer took back; call 3: wrong format; call 4: not reviewed."""
    add_calls(engine, make_rows(4, model_version="v1"))
    both = Judgement("fail", ("hallucination", "wrong format"))
    annotate(engine, 1, "ann", Judgement("fail", ("hallucination",)))
    annotate(engine, 1, "ann", Judgement("fail", ("hallucination",)))
    annotate(engine, 1, "bob", Judgement("fail", ("hallucination",)))
    annotate(engine, 1, "cara", both)
    annotate(engine, 2, "ann", Judgement("fail", ("hallucination",)))
    annotate(engine, 2, "ann", Judgement("pass", ()))
    annotate(engine, 3, "bob", Judgement("fail", ("wrong format",)))
    return engine


def test_a_call_counts_once_however_many_reviewers_labelled_it(reviewed):
    usage = label_usage(reviewed)
    assert usage.judged_calls == 3
    assert usage.calls == {"hallucination": 1, "wrong format": 2}
    assert usage.share("hallucination") == pytest.approx(1 / 3)
    assert usage.share("wrong format") == pytest.approx(2 / 3)
    assert usage.share("edge case mishandled") == 0


def _open(page: str) -> AppTest:
    at = open_page(None if page == "home" else page, timeout=60, reviewer="ann")
    assert not at.exception
    return at


def test_home_states_the_share_of_judged_calls_and_stays_within_100_percent(reviewed):
    from evalboard.ui.home_view import _habit_frames
    from evalboard.ui.store import store_url

    at = _open("home")
    captions = " ".join(c.value for c in at.caption)
    assert USAGE_DEFINITION in captions
    _, _, labels = _habit_frames(store_url())
    shares = dict(zip(labels["label"], labels["share of judged calls"], strict=True))
    assert shares == pytest.approx({"hallucination": 1 / 3, "wrong format": 2 / 3})
    assert dict(zip(labels["label"], labels["calls"], strict=True)) == {
        "hallucination": 1, "wrong format": 2}


def test_settings_counts_calls_as_home_does(reviewed):
    at = _open("settings")
    captions = [c.value for c in at.caption]
    assert "used on 1 call" in captions and "used on 2 calls" in captions
    assert captions.count("used on 0 calls") == 6


def test_home_draws_each_label_in_its_settings_colour(reviewed):
    import json

    from evalboard.review.labels import list_labels, update_label

    ids = {label.name: label.id for label in list_labels(reviewed)}
    update_label(reviewed, ids["hallucination"], color="#123456")
    at = _open("home")
    specs = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    (encoding,) = [spec["encoding"] for spec in specs
                   if spec.get("encoding", {}).get("y", {}).get("field") == "label"]
    scale = encoding["color"]["scale"]
    colours = dict(zip(scale["domain"], scale["range"], strict=True))
    assert colours["hallucination"] == "#123456"
    wrong_format = next(label for label in list_labels(reviewed) if label.name == "wrong format")
    assert colours["wrong format"] == wrong_format.color
