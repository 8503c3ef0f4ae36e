"""Altair charts as the Vega-Lite specs `st.vega_lite_chart` draws, cheap to keep.

`st.altair_chart` builds and validates the whole Altair spec on every rerun (for a page of
charts, seconds: JSON-schema validation and Altair's deep copies). `vega_lite_spec` converts
a chart once, without the validation, to the spec Streamlit would send (the chart's data
frames as named datasets, which Streamlit ships as Arrow as it does for Altair charts), so a
page can cache it (`st.cache_data`, keyed by the frames) and draw it with st.vega_lite_chart.
"""

from __future__ import annotations

import json
import re
from typing import Any

import altair as alt
import pandas as pd

# What Altair's default theme adds, and Streamlit's Altair path leaves out (it sizes charts).
DEFAULT_THEME_VIEW = {"continuousWidth": 300, "continuousHeight": 300}
_COUNTED_NAME = re.compile(r'"((?:view|param)_)(\d+)"')


def _charts(chart: Any) -> list[Any]:
    """The chart and every chart nested in it (layers, concatenations, facets)."""
    found, todo = [], [chart]
    while todo:
        current = todo.pop()
        found.append(current)
        for attribute in ("layer", "hconcat", "vconcat", "concat"):
            todo += list(getattr(current, attribute, None) or [])
        inner = getattr(current, "spec", None)
        if isinstance(inner, alt.SchemaBase):
            todo.append(inner)
    return found


def _renumbered(spec: dict[str, Any]) -> dict[str, Any]:
    """Altair numbers views and parameters with a process-wide counter: number them from 1 in
    order of appearance, so the same chart always gives the same spec (and widget identity)."""
    numbers: dict[str, str] = {}

    def renumber(match: re.Match[str]) -> str:
        name = match.group(0)
        if name not in numbers:
            count = sum(1 for seen in numbers if seen.startswith(f'"{match.group(1)}'))
            numbers[name] = f'"{match.group(1)}{count + 1}"'
        return numbers[name]

    return json.loads(_COUNTED_NAME.sub(renumber, json.dumps(spec)))


def vega_lite_spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The Vega-Lite spec of `chart` for st.vega_lite_chart. Takes the chart over: its data
    frames are replaced by references to the spec's datasets."""
    frames: dict[str, pd.DataFrame] = {}
    names: dict[int, str] = {}  # a frame shared by several layers is sent once
    for part in _charts(chart):
        data = getattr(part, "data", None)
        if isinstance(data, pd.DataFrame):
            # never "data_N": Vega-Lite gives its own data sources those names (no chart drawn)
            name = names.setdefault(id(data), f"frame_{len(names) + 1}")
            frames[name] = data
            part.data = alt.NamedData(name=name)
    spec = _renumbered(chart.to_dict(validate=False))
    config = spec.get("config", {})
    if config.get("view") == DEFAULT_THEME_VIEW:
        del config["view"]
        if not config:
            del spec["config"]
    if frames:
        spec["datasets"] = {**spec.get("datasets", {}), **frames}
    return spec
