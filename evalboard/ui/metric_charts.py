"""Altair charts of metric frames: across versions and over time, with 95% intervals, targets,
CSV, and a click that opens the matching calls or run.

Every version of the axis is on every chart, labelled (never hidden, never cut into a name
another version could have), and a version without data says "no data" instead of looking
like zero. The specs are built by `version_chart_spec` / `time_chart_spec` (plain Altair, so
tests read them as Vega-Lite JSON) and drawn by `version_chart` / `time_chart`, which cache
each converted spec (evalboard/ui/chart_specs.py) so a rerun does not build it again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from evalboard.metrics.targets import Target
from evalboard.ui.chart_specs import vega_lite_spec
from evalboard.ui.navigation import BROWSE

FORMATS = {"share": ".1%", "score": ".3f", "ms": ",.0f", "tokens": ",.1f", "count": ",d",
           "mean": ",.2~f"}  # mean: a reviewer's rating or number (4.25, 4, not 4.000)
VERSION = "model_version"
VERSION_LABEL = "version_label"
NO_DATA = "no data"
LABEL_CHARS = 28  # longer version names are shortened (uniquely) on axes and legends
SVG = {"embedOptions": {"renderer": "svg"}}  # text in the page: readable, and testable


SEPARATORS = "-_/: "


def short_version_names(names: Sequence[str], limit: int = LABEL_CHARS) -> dict[str, str]:
    """A unique label per version name: the name itself up to `limit` characters, else its
    first word, an ellipsis and as many of its last words as fit (versions of one base model
    differ at the end: `Mistral-…v0.2-sft-support-a`), lengthened until no two labels are the
    same."""
    unique = list(dict.fromkeys(names))
    width = dict.fromkeys(unique, limit)

    def cut(name: str) -> str:
        if len(name) <= width[name]:
            return name
        word = next((k + 1 for k, char in enumerate(name) if char in SEPARATORS), len(name))
        head = name[: min(word, width[name] // 3)]
        tail = name[-(width[name] - len(head) - 1):]
        start = next((k + 1 for k, char in enumerate(tail[: len(tail) // 2])
                      if char in SEPARATORS), 0)  # begin the end part at a word
        return head + "…" + tail[start:]

    while True:
        labels = {name: cut(name) for name in unique}
        seen: dict[str, list[str]] = {}
        for name, label in labels.items():
            seen.setdefault(label, []).append(name)
        clashing = [name for group in seen.values() if len(group) > 1 for name in group
                    if len(labels[name]) < len(name)]
        if not clashing:
            return labels
        for name in clashing:
            width[name] += 4


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


@dataclass(frozen=True)
class Series:
    """How a chart splits its bars or lines: the column, its legend title, and (optionally)
    a fixed colour per value (verdicts, labels as set in Settings)."""

    field: str
    title: str
    colors: Mapping[str, str] | None = None

    def encoding(self, values: Sequence[Any]) -> alt.Color:
        """Colours in the order the bars stand (fixed ones where given)."""
        order = list(dict.fromkeys(values))
        legend = alt.Legend(labelLimit=400)
        if self.colors is None:
            return alt.Color(f"{self.field}:N", title=self.title, sort=order, legend=legend)
        domain = [value for value in self.colors if value in set(order)]
        return alt.Color(f"{self.field}:N", title=self.title, legend=legend,
                         scale=alt.Scale(domain=domain, range=[self.colors[v] for v in domain]))


def _version_x(labels: Sequence[str]) -> alt.X:
    longest = max((len(label) for label in labels), default=0)
    angle = 0 if len(labels) <= 4 and longest <= 14 else -40
    return alt.X(f"{VERSION_LABEL}:N", sort=list(labels), scale=alt.Scale(domain=list(labels)),
                 title="Model version",
                 axis=alt.Axis(labelAngle=angle, labelOverlap=False, labelLimit=400,
                               labelAlign="center" if angle == 0 else "right"))


def _missing_versions(frame: pd.DataFrame, value: str, axis: Sequence[str]) -> list[str]:
    """Versions of the axis with no value in the frame (no row, or only empty ones)."""
    present = set(frame.loc[frame[value].notna(), VERSION]) if not frame.empty else set()
    return [name for name in axis if name not in present]


def version_chart_spec(frame: pd.DataFrame, value: str, *, axis: Sequence[str], title: str,
                       unit: str = "share", series: Series | None = None,
                       target: Target | None = None,
                       interval: tuple[str, str] | None = None,
                       scale: tuple[float, float] | None = None) -> alt.LayerChart:
    """Bars of `value` per model version of `axis` (in that order), split by `series`, with
    whiskers from the `interval` columns (low, high) and a "no data" note on every version
    without a value. `scale` fixes the value axis (a score's whole range, not the data's)."""
    fmt = FORMATS.get(unit, ".3f")
    labels = short_version_names(axis)
    data = frame.assign(**{VERSION_LABEL: frame[VERSION].map(labels)})
    x = _version_x([labels[name] for name in axis])
    pick = alt.selection_point(fields=[VERSION], name="pick")
    y = alt.Y(f"{value}:Q", title=title, axis=alt.Axis(format=fmt),
              **({} if scale is None else {"scale": alt.Scale(domain=list(scale))}))
    tooltip: list[Any] = [alt.Tooltip(f"{VERSION}:N", title="Model version"),
                          alt.Tooltip(f"{value}:Q", title=title, format=fmt)]
    if interval:
        tooltip += [alt.Tooltip(f"{interval[0]}:Q", title="95% interval from", format=fmt),
                    alt.Tooltip(f"{interval[1]}:Q", title="95% interval to", format=fmt)]
    offset: dict[str, Any] = {}
    if series:
        tooltip.insert(1, alt.Tooltip(f"{series.field}:N", title=series.title))
        offset = {"xOffset": alt.XOffset(f"{series.field}:N",
                                         sort=list(dict.fromkeys(data[series.field])))}
        bars = alt.Chart(data).mark_bar().encode(
            x=x, y=y, color=series.encoding(list(data[series.field])), tooltip=tooltip,
            **offset)
    else:
        bars = alt.Chart(data).mark_bar().encode(
            x=x, y=y, tooltip=tooltip,
            color=alt.condition(pick, alt.value("#3b5bdb"), alt.value("#a5b4fc")))
    layers: list[Any] = [bars.add_params(pick)]
    if interval:
        layers.append(alt.Chart(data).mark_errorbar(ticks={"size": 6}, color="#212529").encode(
            x=x, y=alt.Y(f"{interval[0]}:Q", title=title), y2=f"{interval[1]}:Q",
            tooltip=tooltip, **offset))
    if target is not None and target.target is not None and not series:
        layers += _target_layers(data, value, x, target)
    missing = _missing_versions(frame, value, axis)
    if missing:
        notes = pd.DataFrame({VERSION: missing, VERSION_LABEL: [labels[n] for n in missing],
                              value: [None] * len(missing), "note": NO_DATA})
        layers.append(alt.Chart(notes).mark_text(
            angle=270, align="left", baseline="middle", dx=6, color="#868e96",
            fontStyle="italic").encode(x=x, y=alt.YDatum(0), text="note:N",
                                       tooltip=[alt.Tooltip(f"{VERSION}:N",
                                                            title="Model version"),
                                                alt.Tooltip("note:N", title=title)]))
    return alt.layer(*layers).properties(usermeta=SVG)


# Built once per chart content (the frames and options are the key), not on every rerun:
# building and converting the Altair specs of a page of charts takes seconds.
@st.cache_data(show_spinner=False, max_entries=256)
def _version_vega_spec(frame: pd.DataFrame, value: str, axis: tuple[str, ...], title: str,
                       unit: str, series: Series | None, target: Target | None,
                       interval: tuple[str, str] | None,
                       scale: tuple[float, float] | None) -> dict[str, Any]:
    return vega_lite_spec(version_chart_spec(frame, value, axis=axis, title=title, unit=unit,
                                             series=series, target=target, interval=interval,
                                             scale=scale))


@st.cache_data(show_spinner=False, max_entries=256)
def _time_vega_spec(frame: pd.DataFrame, value: str, axis: tuple[str, ...], title: str,
                    unit: str, bucket: str) -> dict[str, Any]:
    return vega_lite_spec(time_chart_spec(frame, value, axis=axis, title=title, unit=unit,
                                          bucket=bucket))


def version_chart(frame: pd.DataFrame, value: str, *, name: str, axis: Sequence[str],
                  title: str, unit: str = "share", series: Series | None = None,
                  target: Target | None = None, interval: tuple[str, str] | None = None,
                  scale: tuple[float, float] | None = None) -> list[str]:
    """Draw version_chart_spec (a CSV of the frame below it); returns the versions the user
    clicked."""
    if not axis or _missing_versions(frame, value, axis) == list(axis):
        st.caption("No data yet.")
        return []
    spec = _version_vega_spec(frame, value, tuple(axis), title, unit, series, target, interval,
                              scale)
    event = st.vega_lite_chart(spec, width="stretch", on_select="rerun", selection_mode="pick",
                               key=f"chart_{name}")
    missing = _missing_versions(frame, value, axis)
    if missing:
        st.caption(f"No data for {', '.join(missing)}.")
    download(frame, name)
    return _selected(event, VERSION)


def counts_caption(counts: Mapping[str, int], axis: Sequence[str], noun: str) -> str:
    """"n per version: a 12 answers · b no data": every version of the axis, in order (a
    count of 0 is no data); `noun` is singular."""
    parts = [f"{name} {counts[name]:,} {noun}{'' if counts[name] == 1 else 's'}"
             if counts.get(name) else f"{name} {NO_DATA}" for name in axis]
    return "n per version: " + " · ".join(parts) + "."


def _target_layers(frame: pd.DataFrame, value: str, x: alt.X, target: Target) -> list[Any]:
    shown = frame[frame[value].notna()]
    better = (shown[value] >= target.target) if target.direction == "max" \
        else (shown[value] <= target.target)
    marked = shown.assign(meets=better.map({True: "meets target", False: "misses target"}))
    rule = alt.Chart(pd.DataFrame({"target": [target.target]})).mark_rule(
        color="#e03131", strokeDash=[6, 4]).encode(y=alt.Y("target:Q", title=None))
    points = alt.Chart(marked).mark_point(size=90, filled=True).encode(
        x=x, y=f"{value}:Q", shape=alt.Shape("meets:N", title=None),
        color=alt.Color("meets:N", scale=alt.Scale(
            domain=["meets target", "misses target"], range=["#2f9e44", "#e03131"]),
            title=None))
    return [rule, points]


def time_chart_spec(frame: pd.DataFrame, value: str, *, axis: Sequence[str], title: str,
                    unit: str = "count", bucket: str = "Day") -> alt.Chart:
    """Lines per model version over time; every version of `axis` keeps its colour on every
    time chart (the legend lists them all, in axis order)."""
    fmt = FORMATS.get(unit, ".3f")
    labels = short_version_names(axis)
    data = frame.assign(bucket=pd.to_datetime(frame["bucket"]),
                        **{VERSION_LABEL: frame[VERSION].map(labels)})
    pick = alt.selection_point(fields=[VERSION, "bucket"], name="pick")
    domain = [labels[name] for name in axis]
    return alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("bucket:T", title=bucket), y=alt.Y(f"{value}:Q", title=title,
                                                   axis=alt.Axis(format=fmt)),
        color=alt.Color(f"{VERSION_LABEL}:N", title="Model version", sort=domain,
                        scale=alt.Scale(domain=domain), legend=alt.Legend(labelLimit=400)),
        tooltip=[alt.Tooltip(f"{VERSION}:N", title="Model version"),
                 alt.Tooltip("bucket:T", title=bucket),
                 alt.Tooltip(f"{value}:Q", title=title, format=fmt)],
    ).add_params(pick).properties(usermeta=SVG)


def time_chart(frame: pd.DataFrame, value: str, *, name: str, axis: Sequence[str], title: str,
               unit: str = "count", bucket_days: int = 1) -> list[tuple[str, str]]:
    """Draw time_chart_spec; returns (version, bucket) pairs the user clicked."""
    missing = _missing_versions(frame, value, axis)
    if frame.empty or missing == list(axis):
        st.caption("No data in this period.")
        return []
    spec = _time_vega_spec(frame, value, tuple(axis), title, unit,
                           "Week" if bucket_days == 7 else "Day")
    event = st.vega_lite_chart(spec, width="stretch", on_select="rerun", selection_mode="pick",
                               key=f"chart_{name}")
    if missing:
        st.caption(f"No data in this period for {', '.join(missing)}.")
    download(frame, name)
    picked = _selected(event, "bucket")
    versions = _selected(event, VERSION)
    return list(zip(versions, [str(b) for b in picked], strict=False))


def browse_link(version: str, day: date | None = None, days: int = 1) -> None:
    """A deep link to the calls behind a clicked point."""
    params = {"version": version}
    if day is not None:
        params |= {"since": day.isoformat(), "until": (day + timedelta(days=days - 1)).isoformat()}
    st.page_link(BROWSE.path, label=f"Open the calls of {version}"
                 + (f" from {day:%Y-%m-%d}" if day else ""), query_params=params,
                 icon=":material/open_in_new:")
