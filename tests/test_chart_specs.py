"""Charts converted once for st.vega_lite_chart (evalboard/ui/chart_specs.py) are the charts
st.altair_chart would draw: same spec, the frames as named datasets."""

from __future__ import annotations

import json
import re

import altair as alt
import pandas as pd

from evalboard.ui.chart_specs import vega_lite_spec
from evalboard.ui.metric_charts import Series, time_chart_spec, version_chart_spec

FRAME = pd.DataFrame({"model_version": ["a", "a", "b"], "label": ["x", "y", "x"],
                      "pass_rate": [0.5, 0.7, 0.2], "low": [0.4, 0.6, 0.1],
                      "high": [0.6, 0.8, 0.3]})


def _layered() -> alt.LayerChart:
    return version_chart_spec(FRAME, "pass_rate", axis=["a", "b", "c"], title="Pass rate",
                              series=Series("label", "Label", {"x": "#123456", "y": "#654321"}),
                              interval=("low", "high"))


def _streamlit_spec(chart: alt.TopLevelMixin) -> dict:
    """What st.altair_chart sends (Streamlit's own conversion)."""
    from streamlit.elements.vega_charts import _convert_altair_to_vega_lite_spec

    return _convert_altair_to_vega_lite_spec(chart)


def _without_data_names(spec: dict) -> str:
    names = list(spec.pop("datasets"))
    text = json.dumps(spec, sort_keys=True)
    for name in names:
        text = text.replace(f'"{name}"', '"DATA"')
    return re.sub(r'"(view|param)_\d+"', '"NAME"', text)


def test_the_spec_is_the_one_streamlit_draws_from_altair():
    for build in (_layered, lambda: time_chart_spec(
            FRAME.assign(bucket=pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-01"])),
            "pass_rate", axis=["a", "b"], title="Pass rate")):
        ours, theirs = vega_lite_spec(build()), _streamlit_spec(build())
        assert sorted(len(frame) for frame in ours["datasets"].values()) == (
            sorted(len(_arrow_rows(data)) for data in theirs["datasets"].values()))
        assert _without_data_names(ours) == _without_data_names(theirs)


def _arrow_rows(data: bytes) -> list:
    import pyarrow as pa

    return pa.ipc.open_stream(data).read_all().to_pylist()


def test_the_same_chart_gives_the_same_spec_and_frames_are_named_apart_from_vega_lites():
    first, second = vega_lite_spec(_layered()), vega_lite_spec(_layered())
    frames = first.pop("datasets"), second.pop("datasets")
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert list(frames[0]) == list(frames[1])
    # Vega-Lite names its own data sources data_0, data_1...: a dataset of that name breaks
    # the chart in the browser
    assert not any(re.fullmatch(r"data_\d+", name) for name in frames[0])


def test_a_frame_shared_by_layers_is_sent_once():
    bars = alt.Chart(FRAME).mark_bar().encode(x="model_version:N", y="pass_rate:Q")
    rules = alt.Chart(FRAME).mark_rule().encode(x="model_version:N", y="low:Q")
    spec = vega_lite_spec(alt.layer(bars, rules))
    assert len(spec["datasets"]) == 1
    assert spec["datasets"][next(iter(spec["datasets"]))] is FRAME
