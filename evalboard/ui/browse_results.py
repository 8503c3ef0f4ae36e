"""The Browse results: counts per model version, a keyset-paged table, downloads."""

from __future__ import annotations

import hashlib
import io
from itertools import islice
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from evalboard.exchange.exporting import write_csv, write_jsonl
from evalboard.review.call_marks import CallMarks, current_marks
from evalboard.store.calls_counts import SPLIT_BOUND, MatchCounts, browse_counts
from evalboard.store.calls_pages import CallPage, Cursor, list_calls
from evalboard.store.calls_query import SORTS, CallFilter, iter_calls
from evalboard.store.review_models import VERDICTS
from evalboard.ui.bulk_label import bulk_panel
from evalboard.ui.call_detail import open_call_dialog
from evalboard.ui.call_table import Column, call_table
from evalboard.ui.label_badges import VERDICT_COLOURS, settings_label_colours
from evalboard.ui.store import engine_for, store_url

MAX_UI_DOWNLOAD = 100_000
CALL_PARAM, AFTER_PARAM, BEFORE_PARAM, PAGE_PARAM = "call", "after", "before", "page"


@st.cache_data(ttl=30, show_spinner=False)
def cached_counts(url: str, f: CallFilter, split: bool) -> MatchCounts:
    """Browse's counts; `split` asks for the per-version split of any search, however broad."""
    return browse_counts(engine_for(url), f, split_bound=None if split else SPLIT_BOUND)


def version_counts(f: CallFilter) -> MatchCounts:
    """Show how many calls of each model version match; return the counts."""
    split_asked = st.session_state.get("browse_split_for") == f
    counts = cached_counts(store_url(), f, split_asked)
    if counts.per_version is None:
        st.markdown(f"**{counts.describe().capitalize()} matching calls**")
        st.caption(f"A search matching more than {SPLIT_BOUND:,} calls is counted without "
                   "the split per model version, which reads every match." if counts.exact
                   else f"This store (PostgreSQL) stops counting a search at {counts.total:,} "
                   "matches: its count reads every match.")
        if st.button("Count per model version" if counts.exact else "Count them all",
                     icon=":material/functions:"):
            st.session_state["browse_split_for"] = f
            st.rerun()
        return counts
    counts_per_version = counts.per_version
    if not counts_per_version:
        return counts
    st.markdown("**Matching calls per model version**")
    frame = pd.DataFrame(counts_per_version, columns=["model version", "calls"])
    st.dataframe(
        frame,
        hide_index=True, placeholder="—",
        width="stretch",
        column_config={"calls": st.column_config.NumberColumn("calls", format="localized")},
    )
    return counts


def _reset_paging_when_filter_changes(f: CallFilter, sort_key: str) -> None:
    signature = (f, sort_key)
    if st.session_state.get("browse_signature") not in (None, signature):
        _to_first_page()
    st.session_state["browse_signature"] = signature


def _to_first_page() -> None:
    for param in (AFTER_PARAM, BEFORE_PARAM, PAGE_PARAM):
        st.query_params.pop(param, None)


def _url_cursor(param: str, sort_key: str) -> Cursor | None:
    token = st.query_params.get(param)
    if not token:
        return None
    try:
        return Cursor.decode(token, SORTS[sort_key])
    except ValueError:
        st.warning("The page in this link is not valid for this sort; showing the first page.")
        _to_first_page()
        return None


def _page_number(page: CallPage) -> int:
    """The page's number from the URL (1 on the first page, at least 2 on any other)."""
    if page.previous_cursor is None:
        return 1
    try:
        return max(int(st.query_params.get(PAGE_PARAM, "2") or 2), 2)
    except ValueError:
        return 2


def _go_older(page: CallPage, number: int) -> None:
    assert page.next_cursor is not None
    st.query_params.pop(BEFORE_PARAM, None)
    st.query_params[AFTER_PARAM] = page.next_cursor.encode()
    st.query_params[PAGE_PARAM] = str(number + 1)


def _go_newer(page: CallPage, number: int) -> None:
    """The page before this one, from this page's first row: the URL alone says where it is."""
    assert page.previous_cursor is not None
    if number <= 2:
        _to_first_page()
        return
    st.query_params.pop(AFTER_PARAM, None)
    st.query_params[BEFORE_PARAM] = page.previous_cursor.encode()
    st.query_params[PAGE_PARAM] = str(number - 1)


def _frame(page: CallPage, marks: dict[int, CallMarks]) -> pd.DataFrame:
    none = CallMarks()
    return pd.DataFrame(
        [
            (
                r.id,
                r.created_at,
                r.model_version,
                r.source,
                r.input_preview,
                r.output_preview,
                r.latency_ms,
                r.total_tokens,
                "error" if r.error else "",
                marks.get(r.id, none).verdicts,
                marks.get(r.id, none).labels,
            )
            for r in page.rows
        ],
        columns=[
            "id",
            "time (UTC)",
            "model version",
            "source",
            "input",
            "output",
            "latency ms",
            "tokens",
            "status",
            "verdict",
            "labels",
        ],
    )


def _grid_columns() -> dict[str, Any]:
    """The data grid's columns (bulk mode): the verdict in its colours and the labels in the
    colours set in Settings."""
    colours = settings_label_colours(store_url())
    return {
        "id": st.column_config.NumberColumn(format="%d", width="small"),
        "time (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
        "input": st.column_config.TextColumn(width="large"),
        "output": st.column_config.TextColumn(width="large"),
        "latency ms": st.column_config.NumberColumn(format="%.0f"),
        "verdict": st.column_config.MultiselectColumn(
            "verdict", options=list(VERDICTS), color=[VERDICT_COLOURS[v] for v in VERDICTS],
            help="The current verdicts of the call's reviewers."),
        "labels": st.column_config.MultiselectColumn(
            "labels", options=list(colours), color=list(colours.values()) or None,
            width="large", help="The labels its reviewers currently give it."),
    }


# The HTML table's columns (see call_table), by the frame's names: the call's text and what
# reviewers said first, then the figures and source (left out on a narrow screen)
TABLE_COLUMNS = [
    Column("id", "open", "3.5rem"), Column("time (UTC)", "time", "5.75rem"),
    Column("model version", "text", "6.5rem"), Column("input", "text", None),
    Column("output", "text", None), Column("status", "status", "3.25rem"),
    Column("verdict", "chips", "4.25rem"), Column("labels", "chips", "7.5rem"),
    Column("latency ms", "number", "4.5rem", drop="medium"),
    Column("tokens", "number", "3.75rem", drop="medium"),
    Column("source", "text", "5.5rem", drop="wide"),
]


def results_table(
    engine: Engine, f: CallFilter, sort_key: str, counts: MatchCounts, *, bulk: bool = False
) -> list[int]:
    """One page of calls. Clicking a row opens it (and puts it in the URL); in bulk mode rows
    are ticked for labelling instead. Returns the ticked call ids."""
    _reset_paging_when_filter_changes(f, sort_key)
    after = _url_cursor(AFTER_PARAM, sort_key)
    before = None if after else _url_cursor(BEFORE_PARAM, sort_key)
    page = list_calls(engine, f, sort_key, after, before=before)
    number = _page_number(page)
    first = (number - 1) * 50 + 1
    if not page.rows:
        st.info("No calls match these filters. Clear a filter or widen the dates.")
        return []
    note = (
        ""
        if SORTS[sort_key].column.key == "created_at"
        else " (calls without a value for this sort are not listed)"
    )
    st.caption(f"Page {number} · calls {first:,}–{first + len(page.rows) - 1:,} of "
               f"{counts.describe()}{note}")
    frame = _frame(page, current_marks(engine, [row.id for row in page.rows]))
    key = f"browse_table_{'bulk' if bulk else 'open'}_{_page_key(f, sort_key, page)}"
    selected: list[int] = []
    if bulk:
        event = st.dataframe(
            frame, hide_index=True, placeholder="—", width="stretch", on_select="rerun",
            selection_mode="multi-row", key=key, column_config=_grid_columns(),
        )
        selected = [page.rows[i].id for i in event.selection.rows]
    else:
        call_table(frame, TABLE_COLUMNS, key=key, opened=_opened_call(),
                   caption=f"Calls {first:,}–{first + len(page.rows) - 1:,}",
                   colours={"verdict": VERDICT_COLOURS,
                            "labels": settings_label_colours(store_url())},
                   on_open=_open_call)
    newer, _, older = st.columns([1, 4, 1])
    # callbacks: the URL moves before the rerun, so a page turn is one run, not two
    newer.button("← Newer", disabled=page.previous_cursor is None, width="stretch",
                 on_click=_go_newer, args=(page, number))
    older.button("Older →", disabled=page.next_cursor is None, width="stretch",
                 on_click=_go_older, args=(page, number))
    return selected


@st.fragment
def results_view(engine: Engine, f: CallFilter, sort_key: str, counts: MatchCounts, *,
                 bulk: bool = False) -> None:
    """The table, its paging, the bulk panel, downloads and the call dialog, as a fragment: a
    page turn or an opened row reruns this part only (the filters and counts stay as drawn).
    The dialog comes first: an opened call is drawn before the table is sent again."""
    open_call_dialog(engine)
    selected = results_table(engine, f, sort_key, counts, bulk=bulk)
    if bulk:
        bulk_panel(engine, f, selected, counts.total if counts.exact else None)
    download_buttons(f, counts)


def _page_key(f: CallFilter, sort_key: str, page: CallPage) -> str:
    """Names a view's page by its filter, sort and first row, however it was reached (a
    table keeps no selection from another page or another filter's first page)."""
    where = page.previous_cursor.encode() if page.previous_cursor else "first"
    return hashlib.sha1(repr((f, sort_key, where)).encode()).hexdigest()[:16]


def _opened_call() -> int | None:
    """The call open in the dialog (the dialog itself warns about a malformed id)."""
    raw = st.query_params.get(CALL_PARAM, "")
    return int(raw) if raw.isdigit() else None


def _open_call(call_id: int) -> None:
    """The table's click, before the rerun: the dialog (drawn first) then shows the call."""
    st.query_params[CALL_PARAM] = str(call_id)


def _export_text(url: str, f: CallFilter, fmt: str) -> str:
    records = islice(iter_calls(engine_for(url), f), MAX_UI_DOWNLOAD)
    buffer = io.StringIO()
    (write_csv if fmt == "csv" else write_jsonl)(records, buffer)
    return buffer.getvalue()


def download_buttons(f: CallFilter, counts: MatchCounts) -> None:
    """CSV and JSONL of the current filter, built only when clicked."""
    url = store_url()
    row = st.container(horizontal=True, vertical_alignment="center")
    for fmt, mime in (("csv", "text/csv"), ("jsonl", "application/jsonl")):
        row.download_button(
            f"Download {fmt.upper()}",
            lambda fmt=fmt: _export_text(url, f, fmt),
            file_name=f"evalboard-calls.{fmt}",
            mime=mime,
            disabled=counts.total == 0,
            icon=":material/download:",
        )
    if counts.total > MAX_UI_DOWNLOAD or not counts.exact:
        row.caption(
            f"Downloads stop at {MAX_UI_DOWNLOAD:,} calls; use `evalboard export` "
            f"for all {counts.describe()}."
        )
