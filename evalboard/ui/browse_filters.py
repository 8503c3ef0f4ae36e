"""The Browse filter bar: every widget is bound to a query parameter, so a URL restores a view."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import streamlit as st
from sqlalchemy import Engine

from evalboard.store.calls_query import DEFAULT_SORT, SORTS, CallFilter
from evalboard.store.models import SOURCES
from evalboard.store.search import SearchQueryError, check_search
from evalboard.ui.browse_review_filters import review_filters
from evalboard.ui.date_enter import apply_dates_on_enter

BOUND = "query-params"


def _day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min) if day else None


def _number(value: float | None) -> float | None:
    return None if value is None else float(value)


def filter_bar(engine: Engine, version_names: list[str]) -> tuple[CallFilter, str] | None:
    """Draw the filters; return the filter and sort, or None (with a message) when invalid."""
    search_col, mode_col = st.columns([3, 1], vertical_alignment="bottom")
    query = (
        search_col.text_input(
            "Search input and output",
            key="q",
            bind=BOUND,
            placeholder="words to find, e.g. refund",
            help="Finds calls containing all the words. Turn on Advanced for FTS5 syntax "
            '(OR, NOT, "phrases", prefix*).',
        )
        or ""
    )
    advanced = mode_col.toggle(
        "Advanced", key="adv", bind=BOUND, help="Use SQLite FTS5 query syntax."
    )
    cols = st.columns([3, 2, 2, 2, 2])
    versions = cols[0].multiselect(
        "Model versions", version_names, key="version", bind=BOUND, placeholder="All versions"
    )
    sources = cols[1].multiselect(
        "Sources", list(SOURCES), key="source", bind=BOUND, placeholder="All sources"
    )
    since = cols[2].date_input("From", value=None, key="since", bind=BOUND, format="YYYY-MM-DD")
    until = cols[3].date_input(
        "To (inclusive)", value=None, key="until", bind=BOUND, format="YYYY-MM-DD"
    )
    apply_dates_on_enter()
    sort_key = cols[4].selectbox(
        "Sort by", list(SORTS), key="sort", bind=BOUND, index=list(SORTS).index(DEFAULT_SORT),
        help="Newest first by default; latency and token sorts skip calls without a value.",
    )
    with st.expander("More filters: metadata, latency, tokens, errors"):
        more = st.columns(4)
        meta_key = more[0].text_input(
            "Metadata key", key="mkey", bind=BOUND, placeholder="e.g. user_tier"
        )
        meta_value = more[0].text_input(
            "Metadata value", key="mval", bind=BOUND, placeholder="any value"
        )
        min_latency = more[1].number_input(
            "Min latency (ms)", min_value=0.0, value=None, key="lat_min", bind=BOUND
        )
        max_latency = more[1].number_input(
            "Max latency (ms)", min_value=0.0, value=None, key="lat_max", bind=BOUND
        )
        min_tokens = more[2].number_input(
            "Min tokens", min_value=0, value=None, step=1, key="tok_min", bind=BOUND
        )
        max_tokens = more[2].number_input(
            "Max tokens", min_value=0, value=None, step=1, key="tok_max", bind=BOUND
        )
        errors_only = more[3].toggle("Errors only", key="errors", bind=BOUND)
    reviewed = review_filters()
    try:
        search_note = check_search(query, bool(advanced))
    except SearchQueryError as exc:
        search_col.error(str(exc))
        return None
    if search_note:
        search_col.caption(search_note)
    if since and until and until < since:
        st.error("“To” is before “From”: pick a To date on or after the From date.")
        return None
    f = CallFilter(
        model_versions=tuple(versions),
        sources=tuple(sources),
        since=_day_start(since),
        until=_day_start(until + timedelta(days=1)) if until else None,
        search=query,
        advanced_search=bool(advanced),
        meta_key=meta_key or "",
        meta_value=meta_value or "",
        min_latency_ms=_number(min_latency),
        max_latency_ms=_number(max_latency),
        min_tokens=None if min_tokens is None else int(min_tokens),
        max_tokens=None if max_tokens is None else int(max_tokens),
        errors_only=bool(errors_only),
        **reviewed,
    )
    return f, sort_key or DEFAULT_SORT
