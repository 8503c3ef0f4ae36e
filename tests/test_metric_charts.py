"""The Metrics page's chart specs, read as Vega-Lite JSON: every version on the axis and
labelled, names never cut into ambiguity, fixed verdict colours, intervals drawn, "no data"
instead of zero, human titles."""

from __future__ import annotations

import random
import re
from typing import Any

import pandas as pd
import pytest

from evalboard.ui.label_badges import VERDICT_COLOURS
from evalboard.ui.metric_charts import (
    LABEL_CHARS,
    NO_DATA,
    Series,
    short_version_names,
    time_chart_spec,
    version_chart_spec,
)

SIMILAR = ["Mistral-7B-Instruct-v0.2-sft-support-a", "Mistral-7B-Instruct-v0.2-sft-support-b",
           "Mistral-7B-Instruct-v0.3-sft-support-a", "Mistral-7B-Instruct-v0.3-dpo-support-a",
           "Mistral-7B-Instruct-v0.3-dpo-support-a-old"]


def _frame(versions: list[str], **columns: list[Any]) -> pd.DataFrame:
    return pd.DataFrame({"model_version": versions, "version_order": range(len(versions)),
                         **columns})


def _layers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec.get("layer", [spec])


def _rows(spec: dict[str, Any], layer: dict[str, Any]) -> list[dict[str, Any]]:
    return spec["datasets"][layer.get("data", spec.get("data"))["name"]]  # shared: lifted


def _mark(layer: dict[str, Any]) -> str:
    mark = layer["mark"]
    return mark["type"] if isinstance(mark, dict) else mark


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[k:k + 2], 16) for k in (1, 3, 5))  # type: ignore[return-value]


@pytest.mark.parametrize("count", [5, 10])
def test_every_version_is_on_the_x_axis_and_no_label_is_hidden(count):
    versions = [f"support-bot-v{k}" for k in range(count)]
    frame = _frame(versions, pass_rate=[0.5] * count)
    spec = version_chart_spec(frame, "pass_rate", axis=versions, title="Pass rate").to_dict()
    for layer in _layers(spec):
        x = layer["encoding"]["x"]
        assert x["scale"]["domain"] == versions  # every version, in axis order
        assert x["axis"]["labelOverlap"] is False  # Vega hides overlapping labels otherwise
        assert x["axis"]["labelLimit"] >= 7 * LABEL_CHARS  # no pixel cut of a label
    assert spec["usermeta"]["embedOptions"]["renderer"] == "svg"


def test_similar_long_names_are_shortened_to_unique_labels_with_their_ends():
    labels = short_version_names(["Llama-3.1-8B-Instruct", *SIMILAR])
    assert labels["Llama-3.1-8B-Instruct"] == "Llama-3.1-8B-Instruct"  # short: kept
    assert len(set(labels.values())) == len(labels)
    for name in SIMILAR:
        assert len(labels[name]) <= LABEL_CHARS and "…" in labels[name]
        assert labels[name].endswith(name[-14:])  # the distinguishing end stays
    assert labels[SIMILAR[0]] == "Mistral-…v0.2-sft-support-a"


@pytest.mark.parametrize("seed", range(30))
def test_random_similar_names_never_share_a_label(seed):
    rng = random.Random(seed)
    words = ["org/Mistral-7B-Instruct", "meta-llama/Llama-3.1-8B", "v0.2", "v0.3", "sft",
             "dpo", "lora", "r16", "lr2e-4", "final", "checkpoint", "epoch1", "epoch2", "a", "b"]
    names = list(dict.fromkeys(
        "-".join(rng.choice(words) for _ in range(rng.randint(1, 7))) for _ in range(12)))
    names += [name + rng.choice(["", "x", "-old", "_2"]) for name in names[:3]]
    names = list(dict.fromkeys(names))
    labels = short_version_names(names)
    assert len(set(labels.values())) == len(names)
    for name, label in labels.items():
        assert label == name or ("…" in label and len(label) < len(name))


def test_the_axis_shows_short_labels_and_the_tooltip_the_full_name():
    frame = _frame(SIMILAR, pass_rate=[0.1, 0.2, 0.3, 0.4, 0.5])
    spec = version_chart_spec(frame, "pass_rate", axis=SIMILAR, title="Pass rate").to_dict()
    bars = _layers(spec)[0]
    labels = short_version_names(SIMILAR)
    assert bars["encoding"]["x"]["scale"]["domain"] == [labels[n] for n in SIMILAR]
    tooltip = {t["field"]: t.get("title") for t in bars["encoding"]["tooltip"]}
    assert tooltip["model_version"] == "Model version"
    assert {row["model_version"] for row in _rows(spec, bars)} == set(SIMILAR)


@pytest.mark.parametrize("present", [("pass", "fail", "unsure"), ("unsure", "fail")])
def test_verdicts_have_fixed_semantic_colours(present):
    rows = [("v1", verdict, 0.3) for verdict in present]
    frame = pd.DataFrame(rows, columns=["model_version", "verdict", "rate"]).assign(
        version_order=0)
    spec = version_chart_spec(frame, "rate", axis=["v1"], title="Share of judgements",
                              series=Series("verdict", "Verdict", VERDICT_COLOURS)).to_dict()
    scale = _layers(spec)[0]["encoding"]["color"]["scale"]
    colours = dict(zip(scale["domain"], scale["range"], strict=True))
    assert set(colours) == set(present)  # the same verdict keeps its colour whatever is shown
    red, green, blue = _rgb(colours["fail"])
    assert red > 2 * max(green, blue)  # fail is red
    if "pass" in colours:
        red, green, blue = _rgb(colours["pass"])
        assert green > 1.3 * max(red, blue)  # pass is green
    red, green, blue = _rgb(colours["unsure"])
    assert blue < 0.5 * red and green > 0.4 * red  # unsure is amber, not red
    assert colours["unsure"] != colours["fail"]


def test_a_version_without_data_says_no_data_and_is_never_zero():
    axis = ["v1", "v2", "v3"]
    frame = _frame(["v1", "v3"], error_rate=[0.25, float("nan")],  # v3: calls 0, rate empty
                   error_low=[0.1, float("nan")], error_high=[0.5, float("nan")])
    spec = version_chart_spec(frame, "error_rate", axis=axis, title="Error rate",
                              interval=("error_low", "error_high")).to_dict()
    layers = _layers(spec)
    assert layers[0]["encoding"]["x"]["scale"]["domain"] == axis  # v2 keeps its place
    bars = {row["model_version"]: row["error_rate"] for row in _rows(spec, layers[0])}
    assert bars == {"v1": 0.25, "v3": None}  # empty, not 0
    (notes,) = [layer for layer in layers if _mark(layer) == "text"]
    shown = _rows(spec, notes)
    assert [(row["model_version"], row["note"], row["error_rate"]) for row in shown] == [
        ("v2", NO_DATA, None), ("v3", NO_DATA, None)]
    for layer in layers:
        assert all(row.get("error_rate") != 0 for row in _rows(spec, layer)
                   if row["model_version"] in ("v2", "v3"))


def test_intervals_are_drawn_as_whiskers_with_the_bars():
    frame = _frame(["v1", "v2"], mean=[0.6, 0.7], low=[0.4, 0.65], high=[0.8, 0.75],
                   check_type=["rouge", "rouge"])
    spec = version_chart_spec(frame, "mean", axis=["v1", "v2"], title="Mean score", unit="score",
                              series=Series("check_type", "Check"),
                              interval=("low", "high")).to_dict()
    (whiskers,) = [layer for layer in _layers(spec) if _mark(layer) == "errorbar"]
    assert whiskers["encoding"]["y"]["field"] == "low"
    assert whiskers["encoding"]["y2"]["field"] == "high"
    # grouped bars: each whisker stands on its own bar, not between them
    assert whiskers["encoding"]["xOffset"]["field"] == "check_type"
    assert _layers(spec)[0]["encoding"]["xOffset"]["field"] == "check_type"


def _titles(spec: dict[str, Any]) -> list[str]:
    found = []
    for layer in _layers(spec):
        for channel in ("x", "y", "color"):
            title = layer["encoding"].get(channel, {}).get("title")
            if title:
                found.append(title)
    return found


def test_axis_and_legend_titles_are_human():
    frame = _frame(["v1"], latency_p50=[10.0])
    latency = frame.assign(percentile="p50", ms=10.0)
    specs = [
        version_chart_spec(frame, "latency_p50", axis=["v1"], title="Latency p50", unit="ms"),
        version_chart_spec(latency, "ms", axis=["v1"], title="Latency (ms)", unit="ms",
                           series=Series("percentile", "Percentile")),
        time_chart_spec(frame.assign(bucket=pd.Timestamp("2026-11-01"), calls=3), "calls",
                        axis=["v1"], title="Calls per day"),
    ]
    for spec in specs:
        titles = _titles(spec.to_dict())
        assert "Model version" in titles
        for title in titles:
            assert "_" not in title and title[0].isupper(), title


def test_time_charts_keep_every_version_and_its_colour():
    axis = ["v1", *SIMILAR]
    frame = pd.DataFrame({"bucket": pd.to_datetime(["2026-11-01", "2026-11-02"]),
                          "model_version": [SIMILAR[1], "v1"], "version_order": [2, 0],
                          "calls": [3, 4]})
    spec = time_chart_spec(frame, "calls", axis=axis, title="Calls per day").to_dict()
    colour = spec["encoding"]["color"]
    labels = short_version_names(axis)
    assert colour["scale"]["domain"] == [labels[n] for n in axis]  # legend: all, in order
    assert spec["encoding"]["x"]["title"] == "Day"
    assert not any(re.search(r"\w_\w", title) for title in _titles(spec))
