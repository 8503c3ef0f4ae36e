"""Imports under hostile input: every good row lands, every bad row is named with its line and
field (values the store would refuse, rows the writer refuses anyway, CSV quotes left open,
line numbers of odd JSONL), `--on-error abort` writes nothing, metadata given as JSON text, and
the CLI refuses a store that lives only in memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, OperationalError
from typer.testing import CliRunner

from evalboard.cli import calls_commands
from evalboard.cli.common import CLIError, is_throwaway_sqlite, store
from evalboard.exchange import importing
from evalboard.exchange import refusals as import_refusals
from evalboard.exchange.importing import import_file
from evalboard.store import writes
from evalboard.store.calls_counts import count_calls
from evalboard.store.calls_query import CallFilter, iter_calls

DEEP = 1000  # levels of nesting: beyond what Python's json can read with its recursion limit


def write_lines(path: Path, lines: list[str], end: str = "\n") -> Path:
    path.write_bytes("".join(line + end for line in lines).encode("utf-8", "surrogatepass"))
    return path


def nested(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


def problems(summary: importing.ImportSummary) -> list[tuple[str, str]]:
    return [(p.where, p.field) for p in summary.problems]


def inputs(engine: Engine) -> list[str]:
    return sorted(c["input"] for c in iter_calls(engine, CallFilter()))


def calls_by_input(engine: Engine) -> dict[str, dict[str, Any]]:
    return {c["input"]: c for c in iter_calls(engine, CallFilter())}


# --- values the store would refuse: named with line and field, the other rows land ----------

# Each bad line: its field, and how the call may be stored instead of being reported (the
# values rule may convert a value: NaN and infinity to null, a lone surrogate to U+FFFD).
HOSTILE = [
    ('{"input": "good 1"}', None, None),
    ('{"input": "nan meta", "metadata": {"x": NaN}}', "metadata",
     lambda c: c["metadata"] in ({"x": None}, None)),
    ('{"input": "inf latency", "latency_ms": Infinity}', "latency_ms",
     lambda c: c["latency_ms"] is None),
    (f'{{"input": "huge tokens", "prompt_tokens": {2**70}}}', "prompt_tokens", None),
    ('{"input": "surrogate", "output": "lone \\ud800 half"}', "output",
     lambda c: c["output"] == "lone \ufffd half"),
    ('{"input": "deep meta", "metadata": ' + nested(DEEP) + "}", "metadata", None),
    ('{"input": "deep extra", "extra": ' + nested(DEEP) + "}", "extra", None),
    (json.dumps({"input": "long id", "external_id": "x" * 300}), "external_id",
     lambda c: c["external_id"] == "x" * 300),  # SQLite keeps it unless validation refuses
    ('{"input": "good 2"}', None, None),
]


def hostile_file(tmp_path: Path) -> Path:
    return write_lines(tmp_path / "hostile.jsonl", [line for line, _, _ in HOSTILE])


@pytest.mark.parametrize("batch_size", [1000, 2], ids=["one-batch", "small-batches"])
def test_values_the_store_would_refuse_are_named_and_the_rest_lands(
    engine, tmp_path, monkeypatch, batch_size
):
    monkeypatch.setattr(importing, "BATCH_SIZE", batch_size)
    summary = import_file(engine, hostile_file(tmp_path))
    reported = dict(problems(summary))
    stored = calls_by_input(engine)
    assert {"good 1", "good 2"} <= set(stored)
    for number, (line, field, may_be_stored) in enumerate(HOSTILE, start=1):
        name = json.loads(line[: line.index(",")] + "}")["input"] if field else None
        if field is None:
            continue
        where = f"line {number}"
        if where in reported:
            assert reported[where] == field, (where, summary.problems)
            assert name not in stored
        else:
            assert may_be_stored is not None, f"{where} ({field}) was neither reported nor refused"
            assert may_be_stored(stored[name]), stored[name]
    assert summary.imported + summary.skipped == len(HOSTILE)
    # the store stays usable: a metadata filter reads every stored call's metadata
    count_calls(engine, CallFilter(meta_key="x", meta_value="1"))


def test_a_rerun_of_a_file_with_refused_rows_adds_nothing_and_names_the_same_rows(
    engine, tmp_path
):
    path = hostile_file(tmp_path)
    first = import_file(engine, path)
    again = import_file(engine, path)
    assert problems(again) == problems(first)
    assert (again.imported, again.already_present) == (0, first.imported)


def test_abort_imports_nothing_from_a_file_with_refused_values(engine, tmp_path):
    summary = import_file(engine, hostile_file(tmp_path), on_error="abort")
    assert summary.aborted
    assert ("line 4", "prompt_tokens") in problems(summary)
    assert ("line 6", "metadata") in problems(summary)
    assert count_calls(engine) == 0


# --- rows the writer refuses although validation passed them: bisected, named, the rest lands --


class Poisoned(Exception):
    """What the database driver says about a poisoned value."""


@pytest.fixture
def refusing_store(monkeypatch):
    """The store refuses any row whose metadata holds a "poison" key (as PostgreSQL refuses a
    value too long for its column), in the writer and in trial writes alike."""
    real_insert = writes.insert_calls
    attempts: list[int] = []

    def insert_calls(conn, rows, version_ids):  # type: ignore[no-untyped-def]
        attempts.append(len(rows))
        if any("poison" in (row.get("meta") or {}) for row in rows):
            raise DataError("INSERT INTO calls ...", {}, Poisoned("value too long for the column"))
        return real_insert(conn, rows, version_ids)

    monkeypatch.setattr(writes, "insert_calls", insert_calls)
    monkeypatch.setattr(import_refusals, "insert_calls", insert_calls)
    return attempts


def poisoned_file(tmp_path: Path) -> Path:
    """Ten calls over 13 lines (blank lines count); lines 4 and 11 are refused by the store."""
    lines = []
    for number in range(1, 14):
        if number in (2, 7, 9):
            lines.append("")
        elif number in (4, 11):
            lines.append(json.dumps({"input": f"bad {number}", "poison": True}))
        else:
            lines.append(json.dumps({"input": f"good {number}"}))
    return write_lines(tmp_path / "poisoned.jsonl", lines)


def test_a_batch_the_writer_refuses_is_split_to_name_the_rows_and_land_the_rest(
    engine, tmp_path, monkeypatch, refusing_store
):
    monkeypatch.setattr(importing, "BATCH_SIZE", 4)
    summary = import_file(engine, poisoned_file(tmp_path))
    assert problems(summary) == [("line 4", "metadata"), ("line 11", "metadata")]
    assert all("the store refused this row: value too long" in p.reason
               for p in summary.problems)
    assert summary.imported == 8
    assert inputs(engine) == sorted(f"good {n}" for n in (1, 3, 5, 6, 8, 10, 12, 13))
    again = import_file(engine, poisoned_file(tmp_path))
    assert problems(again) == problems(summary)
    assert (again.imported, again.already_present) == (0, 8)


def test_abort_writes_nothing_when_the_writer_would_refuse_a_row(
    engine, tmp_path, monkeypatch, refusing_store
):
    monkeypatch.setattr(importing, "BATCH_SIZE", 4)
    summary = import_file(engine, poisoned_file(tmp_path), on_error="abort")
    assert summary.aborted
    assert problems(summary) == [("line 4", "metadata"), ("line 11", "metadata")]
    assert count_calls(engine) == 0
    clean = write_lines(tmp_path / "clean.jsonl", ['{"input": "a"}', '{"input": "b"}'])
    assert import_file(engine, clean, on_error="abort").imported == 2  # trials kept nothing


def test_the_field_search_is_bounded_per_batch(engine, tmp_path, monkeypatch, refusing_store):
    monkeypatch.setattr(importing, "MAX_FIELD_SEARCHES", 1)
    path = write_lines(tmp_path / "all_bad.jsonl",
                       [json.dumps({"input": f"bad {n}", "poison": n}) for n in range(3)])
    summary = import_file(engine, path)
    assert problems(summary) == [("line 1", "metadata"), ("line 2", ""), ("line 3", "")]


def test_a_store_that_fails_is_not_blamed_on_the_rows(engine, tmp_path, monkeypatch):
    def locked(conn, rows, version_ids):  # type: ignore[no-untyped-def]
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(writes, "insert_calls", locked)
    path = write_lines(tmp_path / "calls.jsonl", ['{"input": "a"}', '{"input": "b"}'])
    with pytest.raises(OperationalError, match="database is locked"):
        import_file(engine, path)


# --- CSV: a quote left open is reported where it opened; the lines it swallowed are read -------


@pytest.mark.parametrize("lines, reported, reason, landed", [
    (["input,output", "a,1", '"open,2', "b,3", "c,4"],
     ["line 3"], "never closes", ["a", "b", "c"]),
    (["input,output", "a,1", '"open,2', "b,3", '"c",4', "d,5"],
     ["line 3"], "runs into line 5", ["a", "b", "c", "d"]),
    (["input", "a", '"open', "b", "c"],
     ["line 3"], "never closes", ["a", "b", "c"]),
    (["input,output", '"x" y,1', "b,2"], ["line 2"], "CSV error", ["b"]),
    (["input,output", '"multi', 'line",1', '"two', 'lines",2,extra', "c,3"],
     ["line 4"], "runs over lines 4-5", ["c", "multi\nline"]),
], ids=["eof-in-quote", "closed-by-a-later-quote", "one-column", "text-after-quote",
        "field-count-over-lines"])
def test_csv_quote_left_open(engine, tmp_path, lines, reported, reason, landed):
    summary = import_file(engine, write_lines(tmp_path / "calls.csv", lines))
    assert [p.where for p in summary.problems] == reported
    assert reason in summary.problems[0].reason
    assert inputs(engine) == sorted(landed)


def test_csv_multiline_fields_keep_the_line_numbers_of_later_rows(engine, tmp_path):
    path = write_lines(tmp_path / "calls.csv",
                       ["input,latency_ms", '"one', 'two', 'three",1', "b,slow"], end="\r\n")
    summary = import_file(engine, path)
    assert problems(summary) == [("line 5", "latency_ms")]
    assert inputs(engine) == ["one\r\ntwo\r\nthree"]


# --- JSONL and JSON: line numbers as an editor shows them, items by their index ---------------


def test_jsonl_line_numbers_with_blank_lines_boms_crlf_and_a_cut_last_line(engine, tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"input": "a"}\r\n'
        b"\r\n"
        b'{"input": "b", "latency_ms": "slow"}\r\n'
        b"   \n"
        b'\xef\xbb\xbf{"input": "c"}\n'  # a second file joined with cat
        b'{"input": "d"}\r\n'
        b'{"input": "cut sh'
    )
    summary = import_file(engine, path)
    assert problems(summary) == [("line 3", "latency_ms"), ("line 7", "")]
    assert "malformed JSON" in summary.problems[1].reason
    assert inputs(engine) == ["a", "c", "d"]


def test_json_array_items_are_named_by_index_even_when_one_nests_too_deeply(engine, tmp_path):
    path = tmp_path / "calls.json"
    path.write_text("[\n" + ",\n".join([
        '{"input": "a"}', "7", '{"input": "deep", "metadata": ' + nested(DEEP) + "}",
        '{"input": "d", "latency_ms": -1}', '{"input": "e"}',
    ]) + "\n]")
    summary = import_file(engine, path)
    assert problems(summary) == [("item 2", ""), ("item 3", "metadata"), ("item 4", "latency_ms")]
    assert "nested too deeply" in summary.problems[1].reason
    assert inputs(engine) == ["a", "e"]


# --- metadata, messages and input given as JSON text ------------------------------------------


def test_metadata_as_json_text_or_a_plain_value(engine, tmp_path):
    path = write_lines(tmp_path / "calls.jsonl", [json.dumps(r) for r in [
        {"input": "object text", "metadata": '{"team": "support", "n": 2}', "user": "ana"},
        {"input": "plain text", "metadata": "note"},
        {"input": "number", "metadata": 5},
        {"input": "list", "metadata": ["a", "b"]},
        {"input": "list text", "metadata": "[1, 2]"},
        {"input": "broken json", "metadata": "{oops"},
    ]])
    summary = import_file(engine, path)
    assert (summary.imported, summary.problems) == (6, [])
    metadata = {c["input"]: c["metadata"] for c in iter_calls(engine, CallFilter())}
    assert metadata == {
        "object text": {"team": "support", "n": 2, "user": "ana"},
        "plain text": {"metadata": "note"},
        "number": {"metadata": 5},
        "list": {"metadata": ["a", "b"]},
        "list text": {"metadata": "[1, 2]"},
        "broken json": {"metadata": "{oops"},
    }
    assert count_calls(engine, CallFilter(meta_key="team", meta_value="support")) == 1


def test_messages_and_input_as_json_text(engine, tmp_path):
    chat = [{"role": "user", "content": "Hi"}]
    path = write_lines(tmp_path / "calls.jsonl", [json.dumps(r) for r in [
        {"messages": json.dumps(chat), "output": "hello"},
        {"input": json.dumps(chat), "output": "hello again"},
        {"input": "[1, 2] is a list", "output": "prompt text"},
        {"input": '[{"not": "a message"}]', "output": "still text"},
    ]])
    assert import_file(engine, path).imported == 4
    by_output = {c["output"]: c["input"] for c in iter_calls(engine, CallFilter())}
    assert by_output == {"hello": chat, "hello again": chat, "prompt text": "[1, 2] is a list",
                         "still text": '[{"not": "a message"}]'}


def test_csv_metadata_cell_that_is_not_an_object(engine, tmp_path):
    path = write_lines(tmp_path / "calls.csv", ["input,metadata", 'a,"{""k"": 1}"', "b,plain"])
    assert import_file(engine, path).problems == []
    assert {c["input"]: c["metadata"] for c in iter_calls(engine, CallFilter())} == {
        "a": {"k": 1}, "b": {"metadata": "plain"}}


# --- the CLI refuses a store that lives only in memory ---------------------------------------


THROWAWAY = ["sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite+pysqlite:///:memory:",
             "sqlite:///file::memory:?uri=true", "sqlite:///file:x?mode=memory&uri=true"]


@pytest.mark.parametrize("url", THROWAWAY)
def test_store_refuses_an_in_memory_sqlite_url(url):
    assert is_throwaway_sqlite(url)
    with pytest.raises(CLIError, match="in-memory SQLite store") as raised:
        store(url)
    assert raised.value.code == 2


def test_store_refuses_an_in_memory_url_from_the_environment(monkeypatch):
    monkeypatch.setenv("EVALBOARD_DB_URL", "sqlite://")
    with pytest.raises(CLIError, match="in-memory"):
        store(None)


@pytest.mark.parametrize("url", ["sqlite:///evalboard.db", "sqlite:////tmp/x.db",
                                 "postgresql+psycopg://u:p@localhost/db", "not a url"])
def test_file_and_server_urls_are_not_throwaway(url):
    assert not is_throwaway_sqlite(url)


def test_import_command_refuses_an_in_memory_store(tmp_path):
    app = typer.Typer()
    calls_commands.register(app)
    path = write_lines(tmp_path / "calls.jsonl", ['{"input": "a"}'])
    result = CliRunner().invoke(app, ["import", str(path), "--db", "sqlite:///"])
    assert isinstance(result.exception, CLIError)
    assert "in-memory SQLite store" in str(result.exception)
    assert "imported" not in result.output


def test_import_command_reports_refused_rows_with_their_line(engine, db_url, tmp_path):
    app = typer.Typer()
    calls_commands.register(app)
    result = CliRunner().invoke(app, ["import", str(hostile_file(tmp_path)), "--db", db_url])
    assert result.exception is None, result.output
    assert "hostile.jsonl: line 4: prompt_tokens:" in result.output
    assert "hostile.jsonl: line 6: metadata:" in result.output
    assert f"imported {count_calls(engine)}, skipped " in result.output


def test_a_json_file_of_lines_whose_first_line_nests_too_deeply(engine, tmp_path):
    path = write_lines(tmp_path / "calls.json",
                       ['{"input": "deep", "metadata": ' + nested(DEEP) + "}", '{"input": "b"}'])
    summary = import_file(engine, path)
    assert problems(summary) == [("line 1", "metadata")]
    assert inputs(engine) == ["b"]
