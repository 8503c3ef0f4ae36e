"""Browse's results as a plain HTML table (assets/call_table/): a click on a row opens its call.

Streamlit's data grid reports a row selection 150 ms after the click (its debounce) and
repaints a canvas; this table sends the opened call's id as a trigger at once, and 50 rows
of text draw in a few milliseconds. Bulk mode keeps the data grid, whose ticked rows are the
selection to label.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from evalboard.ui.browser_component import browser_component
from evalboard.ui.label_badges import UNSET_COLOUR, readable_text_colour

COMPONENT_NAME = "evalboard.call_table"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

_table_component = browser_component(COMPONENT_NAME, "call_table", "table")


@dataclass(frozen=True)
class Column:
    """How the table draws a column of the frame: `kind` is open (the call id, a button),
    text, time, number, status or chips (a list of names in colours). `drop` leaves it out
    when the table is narrow: "wide" below 58rem, "medium" below 50rem too (table.css)."""

    name: str
    kind: str
    width: str | None  # a CSS width; None shares what the others leave
    drop: str | None = None


def _chip_colours(colours: Mapping[str, str]) -> dict[str, dict[str, str]]:
    return {name: {"background": colour, "text": readable_text_colour(colour)}
            for name, colour in colours.items()}


def _cell(column: Column, value: Any) -> Any:
    if column.kind == "chips":
        return list(value)
    if value is None or (not isinstance(value, list | tuple) and pd.isna(value)):
        return None
    if column.kind == "time":
        return pd.Timestamp(value).strftime(TIME_FORMAT)
    if column.kind == "number":
        return round(float(value))
    if column.kind == "open":
        return int(value)
    return str(value)


DROP_ORDER = ("wide", "medium")  # a narrower table leaves out "wide" columns, then "medium"


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _dropped_notes(columns: list[Column]) -> dict[str, str]:
    """What a narrow table says under it, by how narrow: the columns it leaves out."""
    notes: dict[str, str] = {}
    for level, drop in enumerate(DROP_ORDER):
        left_out = [c.name for c in columns if c.drop in DROP_ORDER[: level + 1]]
        if left_out:
            notes[drop] = (f"Too narrow for every column: {_listed(left_out)} "
                           f"{'is' if len(left_out) == 1 else 'are'} in each call (click a "
                           "row), or widen the window.")
    return notes


def table_data(frame: pd.DataFrame, columns: list[Column], *, opened: int | None,
               caption: str, colours: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """What the component draws: the columns, each row's cells as JSON values, the open call,
    and the chip colours of each chips column (name -> background and readable text)."""
    return {
        "columns": [{"name": c.name, "kind": c.kind, "width": c.width, "drop": c.drop}
                    for c in columns],
        "rows": [[_cell(c, value) for c, value in zip(columns, row, strict=True)]
                 for row in frame[[c.name for c in columns]].itertuples(index=False)],
        "opened": opened, "caption": caption, "dropped": _dropped_notes(columns),
        "colours": {name: _chip_colours(chips) for name, chips in colours.items()},
        "fallback": {"background": UNSET_COLOUR, "text": readable_text_colour(UNSET_COLOUR)},
    }


def call_table(frame: pd.DataFrame, columns: list[Column], *, key: str, opened: int | None,
               caption: str, colours: Mapping[str, Mapping[str, str]],
               on_open: Callable[[int], None]) -> None:
    """Draw the rows; `on_open(call_id)` runs (before the rerun) when a row is clicked."""
    def opened_now() -> None:
        call_id = (st.session_state.get(key) or {}).get("open")
        if call_id is not None:
            on_open(int(call_id))

    data = table_data(frame, columns, opened=opened, caption=caption, colours=colours)
    # one JSON text: Streamlit would turn table-like lists into Arrow tables
    _table_component(key=key, data=json.dumps(data), on_open_change=opened_now)


def table_frame(data: Mapping[str, Any]) -> pd.DataFrame:
    """The rows a component's data holds, as a frame (for tests and tools that read a page)."""
    return pd.DataFrame(data["rows"], columns=[c["name"] for c in data["columns"]])
