"""The Browse page under AppTest: first run, filters, search, pagination, deep links."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

from tests.pg_server import SERVER_ENV
from tests.support.apptest import open_page
from tests.support.browse_rows import results_data, results_frame
from tests.support.calls import T0, add_calls, make_rows


@pytest.fixture
def app(engine):
    def run(**params) -> AppTest:
        return open_page("browse", **params)

    return run


def _ids(at: AppTest) -> list[int]:
    frame = results_frame(at)
    assert frame is not None, "no results table"
    return [int(i) for i in frame["id"]]


def _texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.caption, *at.markdown, *at.info, *at.error,
                                           *at.warning])


@pytest.fixture
def two_versions(engine) -> list[int]:
    """60 alpha calls, 30 beta calls two days later, one refund call after them: their ids,
    oldest first."""
    return [
        *add_calls(engine, make_rows(60, model_version="alpha", latency_ms=50.0)).ids,
        *add_calls(engine, make_rows(30, start=T0 + timedelta(days=2), model_version="beta",
                                     latency_ms=900.0, metadata={"tier": "pro"})).ids,
        *add_calls(engine, [{"input": "please refund my order", "output": "Refund issued.",
                             "model_version": "beta",
                             "created_at": T0 + timedelta(days=3)}]).ids]


def test_empty_store_offers_the_demo_and_a_snippet(app):
    at = app()
    assert not at.exception
    assert at.title[0].value == "Welcome to evalboard"
    assert any(b.label == "Load the demo" for b in at.button)
    assert any("evalboard.connect()" in c.value for c in at.code)


def test_first_run_button_loads_the_demo(app, engine):
    pytest.importorskip("evalboard.demo.builder")
    at = app()
    at.number_input[0].set_value(150)
    next(b for b in at.button if b.label == "Load the demo").click().run()
    assert not at.exception
    assert at.title[0].value == "Browse calls"
    assert "of 150" in _texts(at)


def test_first_page_lists_newest_calls_with_counts(app, two_versions):
    at = app()
    assert not at.exception
    assert at.title[0].value == "Browse calls"
    assert _ids(at) == two_versions[::-1][:50]
    assert "calls 1–50 of 91" in _texts(at)
    counts = next(df.value for df in at.sidebar.dataframe)
    assert dict(zip(counts["model version"], counts["calls"], strict=True)) == {
        "alpha": 60, "beta": 31}


def test_older_and_newer_buttons_page_through_keyset(app, two_versions):
    at = app()
    older = next(b for b in at.button if b.label == "Older →")
    older.click().run()
    assert _ids(at) == two_versions[::-1][50:]
    assert "Page 2" in _texts(at)
    assert at.query_params["after"]
    assert next(b for b in at.button if b.label == "Older →").disabled
    next(b for b in at.button if b.label == "← Newer").click().run()
    assert _ids(at)[0] == two_versions[-1] and "after" not in at.query_params


def test_filters_from_the_url(app, two_versions):
    at = app(version=["beta"], sort="slowest")
    assert set(_ids(at)) == set(two_versions[60:90])  # the refund call has no latency
    assert "calls without a value" in _texts(at)
    at = app(mkey="tier", mval="pro", until=str((T0 + timedelta(days=2)).date()))
    assert len(_ids(at)) == 30


def test_search_and_advanced_syntax_errors(app, two_versions):
    at = app(q="refund")
    assert _ids(at) == [two_versions[-1]]
    at = app(q='refund AND "open', adv="true")
    assert not at.exception
    assert "Advanced search: unbalanced quote" in _texts(at)
    at = app(q='"; DROP TABLE calls; --')
    assert not at.exception and "No calls match" in _texts(at)


def test_deep_link_opens_a_call_raw_by_default(app, engine):
    add_calls(engine, [{"input": "Show me <b>html</b>",
                        "output": "<script>alert(1)</script>\n  indented",
                        "model_version": "v1", "metadata": {"ticket": 7}}])
    at = app(call="1")
    assert not at.exception
    shown = [c.value for c in at.code]
    assert "<script>alert(1)</script>\n  indented" in shown
    assert any(j.value for j in at.json)


def test_deep_link_to_missing_or_bad_call(app, two_versions):
    assert "not in this store" in _texts(app(call="99999"))
    assert "not a call id" in _texts(app(call="abc"))


def test_markdown_mode_escapes_html(app, engine):
    add_calls(engine, [{"input": "x", "output": "**bold** <img src=x onerror=alert(1)>"}])
    at = app(call="1", view="Markdown")
    rendered = " ".join(m.value for m in at.markdown)
    assert "**bold**" in rendered and "&lt;img" in rendered and "<img" not in rendered


def test_the_table_marks_the_open_call_and_shows_missing_values_as_missing(app, engine):
    add_calls(engine, [{"input": "a", "output": "b", "latency_ms": 812.4, "prompt_tokens": 5,
                        "completion_tokens": 4,
                        "created_at": T0},
                       {"input": "c <b>d</b>", "output": None, "error": "timeout",
                        "created_at": T0 + timedelta(minutes=1)}])
    data = results_data(app(call="1"))
    assert data is not None and data["opened"] == 1
    columns = [c["name"] for c in data["columns"]]
    rows = {row[0]: dict(zip(columns, row, strict=True)) for row in data["rows"]}
    assert rows[1]["latency ms"] == 812 and rows[1]["tokens"] == 9
    assert rows[1]["status"] == "" and rows[2]["status"] == "error"
    assert rows[2]["latency ms"] is None and rows[2]["output"] is None  # drawn as "—"
    assert rows[2]["input"] == "c <b>d</b>"  # text as text: the table sets textContent
    assert rows[1]["time (UTC)"] == f"{T0:%Y-%m-%d %H:%M:%S}"
    assert results_data(app())["opened"] is None
    # a narrow table leaves out source, then latency and tokens too, and says so
    assert "source is in each call" in data["dropped"]["wide"]
    assert "latency ms, tokens and source are in each call" in data["dropped"]["medium"]


def test_a_broad_search_is_counted_without_the_split_until_asked(app, two_versions,
                                                                 monkeypatch):
    monkeypatch.setattr("evalboard.ui.browse_results.SPLIT_BOUND", 40)
    monkeypatch.setattr("evalboard.store.calls_counts.PG_SEARCH_COUNT_BOUND", 40)
    at = app(q="answer")  # in 90 of the 91 calls
    assert not at.exception
    assert _split(at) is None
    if not os.environ.get(SERVER_ENV):  # SQLite counts it exactly in its full-text index
        assert "90 matching calls" in _texts(at)
        assert "of 90" in _texts(at)  # the page still knows the total
        button = "Count per model version"
    else:  # PostgreSQL stops counting a search alone past the bound
        assert "More than 40 matching calls" in _texts(at)
        assert "of more than 40" in _texts(at)
        button = "Count them all"
    next(b for b in at.button if b.label == button).click().run()
    assert _split(at) == {"alpha": 60, "beta": 30}
    assert _split(app(q="refund")) == {"beta": 1}  # one match: split at once


def _split(at: AppTest) -> dict[str, int] | None:
    """The per-version counts in the sidebar, or None when they are not shown."""
    frame = next((df.value for df in at.dataframe
                  if list(df.value.columns) == ["model version", "calls"]), None)
    return None if frame is None else dict(zip(frame["model version"], frame["calls"],
                                                strict=True))


def test_newer_from_a_shared_link_to_page_three_goes_to_page_two(app, engine):
    add_calls(engine, make_rows(130))  # ids 1..130, one a minute; pages 130-81, 80-31, 30-1
    link = f"{(T0 + timedelta(minutes=30)).isoformat()}~31"
    at = app(after=link, page="3")  # a reload or a shared link: nothing in the session
    assert _ids(at) == list(range(30, 0, -1)) and "Page 3" in _texts(at)
    next(b for b in at.button if b.label == "← Newer").click().run()
    assert _ids(at) == list(range(80, 30, -1))
    assert "Page 2 · calls 51–100" in _texts(at)
    assert "before" in at.query_params and at.query_params["page"] == "2"
    reloaded = app(**{key: at.query_params[key] for key in ("before", "page")})
    assert _ids(reloaded) == list(range(80, 30, -1))
    next(b for b in reloaded.button if b.label == "Older →").click().run()
    assert _ids(reloaded) == list(range(30, 0, -1)) and "Page 3" in _texts(reloaded)
    next(b for b in reloaded.button if b.label == "← Newer").click().run()
    next(b for b in reloaded.button if b.label == "← Newer").click().run()
    assert _ids(reloaded)[0] == 130 and "Page 1" in _texts(reloaded)
    assert not {"after", "before", "page"} & set(reloaded.query_params)
    assert next(b for b in reloaded.button if b.label == "← Newer").disabled
