"""Altair charts of metric frames: across versions and over time, with targets, CSV, and a
click that opens the matching calls or run."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from evalboard.metrics.targets import Target

FORMATS = {"share": ".1%", "score": ".3f", "ms": ",.0f", "tokens": ",.1f", "count": ",d"}


def download(frame: pd.DataFrame, name: str) -> None:
    st.download_button("CSV", frame.to_csv(index=False), file_name=f"{name}.csv",
                       mime="text/csv", key=f"csv_{name}", icon=":material/download:",
                       type="tertiary")


def _selected(event: Any, field: str) -> list[Any]:
    """Values of `field` in the points the user clicked."""
    if event is None or not getattr(event, "selection", None):
        return []
    points = next(iter(event.selection.values()), [])
    if isinstance(points, Mapping):  # an interval or a single point
        points = [points]
    return [p[field] for p in points or [] if isinstance(p, Mapping) and field in p]


def version_chart(frame: pd.DataFrame, value: str, *, name: str, unit: str = "share",
                  color: str | None = None, target: Target | None = None,
                  errors: tuple[str, str] | None = None) -> list[str]:
    """Bars per model version (in version order); returns the versions the user clicked."""
    if frame.empty:
        st.caption("No data yet.")
        return []
    fmt = FORMATS.get(unit, ".3f")
    order = list(dict.fromkeys(frame.sort_values("version_order")["model_version"]))
    pick = alt.selection_point(fields=["model_version"], name="pick")
    x = alt.X("model_version:N", sort=order, title=None, axis=alt.Axis(labelAngle=-20))
    tooltip = ["model_version:N", alt.Tooltip(f"{value}:Q", format=fmt)]
    if color:
        tooltip.insert(1, f"{color}:N")
        bars = alt.Chart(frame).mark_bar().encode(
            x=x, xOffset=f"{color}:N", y=alt.Y(f"{value}:Q", axis=alt.Axis(format=fmt)),
            color=f"{color}:N", tooltip=tooltip)
    else:
        bars = alt.Chart(frame).mark_bar().encode(
            x=x, y=alt.Y(f"{value}:Q", axis=alt.Axis(format=fmt)), tooltip=tooltip,
            color=alt.condition(pick, alt.value("#3b5bdb"), alt.value("#a5b4fc")))
    layers: list[alt.Chart] = [bars.add_params(pick)]
    if errors:
        layers.append(alt.Chart(frame).mark_errorbar().encode(
            x=x, y=alt.Y(f"{errors[0]}:Q", title=value), y2=f"{errors[1]}:Q"))
    if target is not None and target.target is not None and not color:
        layers += _target_layers(frame, value, x, target)
    event = st.altair_chart(alt.layer(*layers), width="stretch", on_select="rerun",
                            selection_mode="pick", key=f"chart_{name}")
    download(frame, name)
    return _selected(event, "model_version")


def _target_layers(frame: pd.DataFrame, value: str, x: alt.X, target: Target) -> list[Any]:
    better = (frame[value] >= target.target) if target.direction == "max" \
        else (frame[value] <= target.target)
    marked = frame.assign(meets=better.map({True: "meets target", False: "misses target"}))
    rule = alt.Chart(pd.DataFrame({"target": [target.target]})).mark_rule(
        color="#e03131", strokeDash=[6, 4]).encode(y="target:Q")
    points = alt.Chart(marked).mark_point(size=90, filled=True).encode(
        x=x, y=f"{value}:Q", shape=alt.Shape("meets:N", title=None),
        color=alt.Color("meets:N", scale=alt.Scale(
            domain=["meets target", "misses target"], range=["#2f9e44", "#e03131"]),
            title=None))
    return [rule, points]


def time_chart(frame: pd.DataFrame, value: str, *, name: str, unit: str = "count",
               bucket_days: int = 1) -> list[tuple[str, str]]:
    """Lines per model version over time; returns (version, bucket) pairs the user clicked."""
    if frame.empty:
        st.caption("No data in this period.")
        return []
    fmt = FORMATS.get(unit, ".3f")
    data = frame.assign(bucket=pd.to_datetime(frame["bucket"]))
    pick = alt.selection_point(fields=["model_version", "bucket"], name="pick")
    chart = alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("bucket:T", title=None), y=alt.Y(f"{value}:Q", axis=alt.Axis(format=fmt)),
        color="model_version:N",
        tooltip=["model_version:N", "bucket:T", alt.Tooltip(f"{value}:Q", format=fmt)],
    ).add_params(pick)
    event = st.altair_chart(chart, width="stretch", on_select="rerun", selection_mode="pick",
                            key=f"chart_{name}")
    download(frame, name)
    picked = _selected(event, "bucket")
    versions = _selected(event, "model_version")
    return list(zip(versions, [str(b) for b in picked], strict=False))


def browse_link(version: str, day: date | None = None, days: int = 1) -> None:
    """A deep link to the calls behind a clicked point."""
    params = {"version": version}
    if day is not None:
        params |= {"since": day.isoformat(), "until": (day + timedelta(days=days - 1)).isoformat()}
    st.page_link("app_pages/browse.py", label=f"Open the calls of {version}"
                 + (f" from {day:%Y-%m-%d}" if day else ""), query_params=params,
                 icon=":material/open_in_new:")
