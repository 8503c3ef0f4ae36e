"""Import (JSONL, JSON, CSV, Parquet; mapping, bad rows, idempotence) and export (filters, round
trips), asserted against a fresh SQLite store per test."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine

from evalboard.exchange import importing
from evalboard.exchange.exporting import export_calls
from evalboard.exchange.importing import MappingError, RowProblem, import_file, parse_mapping
from evalboard.exchange.readers import ImportFileError
from evalboard.store import open_store
from evalboard.store.calls_counts import count_calls
from evalboard.store.calls_query import CallFilter, iter_calls
from tests.support.calls import T0, add_calls, make_rows

CHAT = [
    {"role": "system", "content": "Answer in French."},
    {"role": "user", "content": "Where is the station?"},
]


# --- helpers ---------------------------------------------------------------------------------


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def write_lines(path: Path, lines: list[str | bytes]) -> Path:
    """Write raw lines (bytes kept as they are), each followed by a newline."""
    path.write_bytes(b"".join((ln if isinstance(ln, bytes) else ln.encode()) + b"\n"
                             for ln in lines))
    return path


def stored(engine: Engine, f: CallFilter | None = None) -> list[dict[str, Any]]:
    """Every call in the store (oldest id first) in the exchange shape."""
    return list(iter_calls(engine, f or CallFilter()))


def by_input(engine: Engine) -> dict[str, dict[str, Any]]:
    """Calls keyed by their input (flattened to text for chat input)."""
    return {json.dumps(c["input"]) if isinstance(c["input"], list) else c["input"]: c
            for c in stored(engine)}


def problems(summary: importing.ImportSummary) -> list[tuple[str, str]]:
    return [(p.where, p.field) for p in summary.problems]


def read_exported(path: Path, fmt: str) -> list[dict[str, Any]]:
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if fmt == "csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    return pq.read_table(path).to_pylist()


@pytest.fixture
def second_engine(tmp_path: Path) -> Iterator[Engine]:
    """Another fresh store, to import an export into."""
    engine = open_store(f"sqlite:///{tmp_path / 'second.db'}")
    yield engine
    engine.dispose()


# --- good files in each format -----------------------------------------------------------------


def test_jsonl_with_default_aliases_and_metadata(engine, tmp_path):
    path = write_jsonl(tmp_path / "calls.jsonl", [
        {"prompt": "What is 2+2?", "response": "4", "model": "math-v1", "id": "req-1",
         "timestamp": "2026-03-04T05:06:07Z", "user": "ana", "tags": ["math"],
         "usage": {"prompt_tokens": 7, "completion_tokens": 1}, "latency_ms": 12.5},
        {"input": "Hi", "output": "Hello", "model_version": "chat-v2",
         "created_at": "2026-03-04T08:00:00+02:00", "metadata": {"team": "support"},
         "channel": "web", "prompt_tokens": 2, "completion_tokens": 3, "error": "timeout",
         "session_id": "s-9", "external_id": "ext-2"},
    ])
    summary = import_file(engine, path)
    assert (summary.imported, summary.skipped, summary.already_present) == (2, 0, 0)
    calls = by_input(engine)
    first, second = calls["What is 2+2?"], calls["Hi"]
    assert first["output"] == "4"
    assert first["model_version"] == "math-v1"
    assert first["external_id"] == "req-1"
    assert first["created_at"] == "2026-03-04T05:06:07"
    assert (first["prompt_tokens"], first["completion_tokens"]) == (7, 1)
    assert first["latency_ms"] == 12.5
    assert first["source"] == "import"
    assert first["metadata"] == {"user": "ana", "tags": ["math"]}
    assert second["created_at"] == "2026-03-04T06:00:00"  # converted to UTC
    assert second["metadata"] == {"channel": "web", "team": "support"}  # merged
    assert (second["error"], second["session_id"], second["external_id"]) == (
        "timeout", "s-9", "ext-2")
    assert count_calls(engine, CallFilter(min_tokens=5, max_tokens=5)) == 1  # total 2 + 3


def test_json_array_items(engine, tmp_path):
    path = tmp_path / "calls.json"
    path.write_text(json.dumps([{"input": "one", "output": "1"}, {"input": "two"}], indent=2))
    summary = import_file(engine, path)
    assert (summary.imported, summary.skipped) == (2, 0)
    assert {c["input"]: c["output"] for c in stored(engine)} == {"one": "1", "two": None}


def test_json_object_wrapping_a_data_list_with_explicit_format(engine, tmp_path):
    path = tmp_path / "calls.json"
    path.write_text(json.dumps({"data": [{"input": "a"}, {"input": "b"}], "version": 1}))
    assert import_file(engine, path, fmt="json").imported == 2
    assert sorted(c["input"] for c in stored(engine)) == ["a", "b"]


@pytest.mark.parametrize("indent", [None, 2], ids=["one-line", "pretty"])
def test_json_object_wrapping_a_data_list_by_suffix(engine, tmp_path, indent):
    path = tmp_path / "calls.json"
    path.write_text(json.dumps({"data": [{"input": "a"}, {"input": "b"}]}, indent=indent))
    summary = import_file(engine, path)
    assert (summary.imported, summary.problems) == (2, [])


@pytest.mark.parametrize("delimiter", [",", ";"], ids=["comma", "semicolon"])
def test_csv_with_sniffed_delimiter(engine, tmp_path, delimiter):
    path = tmp_path / "calls.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(["prompt", "response", "model", "prompt_tokens", "latency_ms",
                         "metadata", "messages", "note"])
        writer.writerow(["Hello, world; twice", "Hi, there; you", "v1", "12", "3.5",
                         '{"k": [1, 2]}', "", "first"])
        writer.writerow(["", "Bonjour", "v2", "", "", "", json.dumps(CHAT), ""])
    summary = import_file(engine, path)
    assert (summary.imported, summary.problems) == (2, [])
    calls = by_input(engine)
    text = calls["Hello, world; twice"]
    assert text["output"] == "Hi, there; you"
    assert (text["model_version"], text["prompt_tokens"], text["latency_ms"]) == ("v1", 12, 3.5)
    assert text["metadata"] == {"note": "first", "k": [1, 2]}  # JSON cell read back
    chat = calls[json.dumps(CHAT)]
    assert chat["input"] == CHAT
    assert (chat["model_version"], chat["metadata"]) == ("v2", None)


def test_parquet_with_nested_columns_and_mapping(engine, tmp_path):
    table = pa.Table.from_pylist([
        {"question": "Capital of Peru?", "response": {"text": "Lima", "finish": "stop"},
         "usage": {"prompt_tokens": 5, "completion_tokens": 1},
         "ts": datetime(2026, 5, 6, 7, 8, 9), "messages": None, "run": "r1"},
        {"question": None, "response": {"text": "Gare du Nord", "finish": "stop"},
         "usage": {"prompt_tokens": 20, "completion_tokens": 4},
         "ts": datetime(2026, 5, 6, 7, 9, 0), "messages": CHAT, "run": "r1"},
    ])
    path = tmp_path / "calls.parquet"
    pq.write_table(table, path)
    mapping = parse_mapping(["input=question", "output=response.text", "created_at=ts"])
    summary = import_file(engine, path, mapping=mapping, model_version="geo-v1")
    # a mapped field does not fall back to the aliases: the chat row has no `question`
    assert (summary.imported, problems(summary)) == (1, [("row 2", "input")])
    summary = import_file(engine, path, mapping={"output": "response.text", "created_at": "ts"})
    # without the mapping `question` is no alias of input; `messages` is
    assert (summary.imported, problems(summary)) == (1, [("row 1", "input")])
    calls = by_input(engine)
    geo = calls["Capital of Peru?"]
    assert (geo["output"], geo["model_version"], geo["created_at"]) == (
        "Lima", "geo-v1", "2026-05-06T07:08:09")
    assert (geo["prompt_tokens"], geo["completion_tokens"]) == (5, 1)
    assert geo["metadata"] == {"run": "r1"}
    chat = calls[json.dumps(CHAT)]
    assert chat["input"] == CHAT and chat["output"] == "Gare du Nord"


def test_mapping_with_dotted_paths_and_index(engine, tmp_path):
    path = write_jsonl(tmp_path / "foreign.jsonl", [
        {"instruction": "Summarise", "response": {"text": "Short."}, "request_id": 41,
         "usage": {"prompt_tokens": 30, "completion_tokens": 2},
         "choices": [{"message": {"content": "ignored"}}], "extra": "kept"},
    ])
    mapping = parse_mapping([" input = instruction", "output=response.text",
                             "external_id=request_id", "completion_tokens=usage.completion_tokens",
                             "error=choices.0.message.content"])
    assert mapping["input"] == "instruction"
    assert import_file(engine, path, mapping=mapping).imported == 1
    (call,) = stored(engine)
    assert (call["input"], call["output"], call["external_id"]) == ("Summarise", "Short.", "41")
    assert (call["prompt_tokens"], call["completion_tokens"]) == (30, 2)
    assert call["error"] == "ignored"
    assert call["metadata"] == {"extra": "kept"}


@pytest.mark.parametrize("item, message", [
    ("inptu=question", "unknown field 'inptu'"),
    ("input", "expected FIELD=SOURCE"),
    ("input=", "expected FIELD=SOURCE"),
    ("=question", "expected FIELD=SOURCE"),
])
def test_parse_mapping_rejects_bad_items(item, message):
    with pytest.raises(MappingError, match=message):
        parse_mapping(["output=response", item])


def test_chat_messages_are_stored_as_messages_and_searchable(engine, tmp_path):
    path = write_jsonl(tmp_path / "chat.jsonl", [{"messages": CHAT, "output": "Par ici."}])
    import_file(engine, path)
    (call,) = stored(engine)
    assert call["input"] == CHAT
    assert [c["output"] for c in stored(engine, CallFilter(search="station"))] == ["Par ici."]


def test_model_version_and_source_defaults(engine, tmp_path):
    path = write_jsonl(tmp_path / "v.jsonl", [{"input": "named", "model": "own"},
                                              {"input": "unnamed"}])
    import_file(engine, path)
    import_file(engine, write_jsonl(tmp_path / "w.jsonl", [{"input": "given"}]),
                model_version="given-v", source="eval")
    calls = by_input(engine)
    assert {k: (c["model_version"], c["source"]) for k, c in calls.items()} == {
        "named": ("own", "import"),
        "unnamed": ("unversioned", "import"),
        "given": ("given-v", "eval"),
    }


def test_model_version_option_does_not_override_a_named_version(engine, tmp_path):
    path = write_jsonl(tmp_path / "v.jsonl", [{"input": "a", "model_version": "row-v"},
                                              {"input": "b"}])
    import_file(engine, path, model_version="option-v")
    assert {c["input"]: c["model_version"] for c in stored(engine)} == {
        "a": "row-v", "b": "option-v"}


# --- bad rows: reported with their place, field and reason; good rows still land -------------


def test_bad_jsonl_lines_are_reported_and_good_rows_land(engine, tmp_path):
    path = write_lines(tmp_path / "mixed.jsonl", [
        '{"input": "good 1"}',
        '{"input": "broken"',
        '["not", "an", "object"]',
        '{"output": "no input"}',
        '{"input": "t", "prompt_tokens": "abc"}',
        '{"input": "t", "latency_ms": -5}',
        '{"input": "t", "completion_tokens": true}',
        b'{"input": "bad \xff byte"}',
        '{"input": "t", "created_at": "next tuesday"}',
        "",
        '{"input": "t", "prompt_tokens": 1.5}',
        '{"input": 42}',
        '{"input": [{"content": "no role"}]}',
        '{"input": "t", "metadata": ["a"], "source": 3}',
        '{"input": "t", "source": "bogus"}',
        '{"input": "good 2", "prompt_tokens": "12", "latency_ms": "7"}',
    ])
    summary = import_file(engine, path, mapping={"source": "source"})
    expected = [
        ("line 2", "", "malformed JSON at character"),
        ("line 3", "", "expected a JSON object, got list"),
        ("line 4", "input", "missing"),
        ("line 5", "prompt_tokens", "expected a number, got 'abc'"),
        ("line 6", "latency_ms", "must not be negative"),
        ("line 7", "completion_tokens", "expected a number, got True"),
        ("line 8", "", "invalid UTF-8 at byte 16"),
        ("line 9", "created_at", "not an ISO 8601 time"),
        ("line 11", "prompt_tokens", "expected a whole number"),
        ("line 12", "input", "got int"),
        ("line 13", "input", "message 0 is not an object with a 'role'"),
        ("line 14", "source", "must be one of"),
        ("line 15", "source", "must be one of"),
    ]
    assert problems(summary) == [(where, field) for where, field, _ in expected]
    for problem, (_, _, reason) in zip(summary.problems, expected, strict=True):
        assert reason in problem.reason
    assert (summary.imported, summary.skipped, summary.aborted) == (2, 13, False)
    good = by_input(engine)
    assert set(good) == {"good 1", "good 2"}
    assert (good["good 2"]["prompt_tokens"], good["good 2"]["latency_ms"]) == (12, 7.0)


def test_metadata_that_is_not_an_object_is_kept_under_its_key_beside_extra_fields(
    engine, tmp_path
):
    path = write_jsonl(tmp_path / "meta.jsonl", [{"input": "a", "metadata": "note", "x": 1}])
    assert import_file(engine, path).problems == []
    assert stored(engine)[0]["metadata"] == {"metadata": "note", "x": 1}


def test_row_problem_reads_as_one_line():
    assert str(RowProblem("line 5", "prompt_tokens", "expected a number, got 'abc'")) == (
        "line 5: prompt_tokens: expected a number, got 'abc'")
    assert str(RowProblem("line 2", "", "malformed JSON")) == "line 2: malformed JSON"


def test_bad_items_of_a_json_array(engine, tmp_path):
    path = tmp_path / "calls.json"
    path.write_text(json.dumps([{"input": "ok"}, 7, {"input": "x", "latency_ms": False}]))
    summary = import_file(engine, path)
    assert problems(summary) == [("item 2", ""), ("item 3", "latency_ms")]
    assert summary.imported == 1


def test_csv_row_with_too_many_fields(engine, tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text('input,output\n"multi\nline",x\ntoo,many,fields\nlast,y\n', encoding="utf-8")
    summary = import_file(engine, path)
    assert problems(summary) == [("line 4", "")]
    assert "3 fields where the header has 2" in summary.problems[0].reason
    assert sorted(c["input"] for c in stored(engine)) == ["last", "multi\nline"]


def test_csv_invalid_utf8_on_one_line(engine, tmp_path):
    path = write_lines(tmp_path / "calls.csv", [b"input,output", b"a,1", b"b\xff,2", b"c,3"])
    summary = import_file(engine, path)
    assert problems(summary) == [("line 3", "")]
    assert sorted(c["input"] for c in stored(engine)) == ["a", "c"]


def test_csv_epoch_seconds_created_at(engine, tmp_path):
    path = write_lines(tmp_path / "calls.csv", ["input,created_at", "q,1700000000"])
    assert import_file(engine, path).problems == []
    assert stored(engine)[0]["created_at"] == "2023-11-14T22:13:20"


@pytest.mark.parametrize("name, body", [
    ("bom.jsonl", b'{"input": "a"}\n{"input": "b"}\n'),
    ("bom.json", b'[{"input": "a"}, {"input": "b"}]'),
], ids=["jsonl", "json"])
def test_utf8_byte_order_mark(engine, tmp_path, name, body):
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + body)
    assert import_file(engine, path).imported == 2


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_nul_and_control_characters_import(engine, tmp_path, fmt):
    text = "nul\x00inside \x07bell \x1b[31mansi\x7f tab\tend"
    path = tmp_path / f"ctl.{fmt}"
    if fmt == "jsonl":
        write_jsonl(path, [{"input": text, "output": text, "metadata": {"raw": text}}])
    else:
        with path.open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows([["input", "output"], [text, text]])
    summary = import_file(engine, path)
    assert (summary.imported, summary.problems) == (1, [])
    (call,) = stored(engine)
    expected = text.replace("\x00", "\ufffd")  # NUL is stored as U+FFFD (PostgreSQL refuses it)
    assert call["input"] == expected and call["output"] == expected


def test_ten_megabyte_field_imports(engine, tmp_path):
    big = "x" * (10 * 1024 * 1024)
    path = write_jsonl(tmp_path / "big.jsonl", [{"input": "big", "output": big}, {"input": "s"}])
    assert import_file(engine, path).imported == 2
    assert len(by_input(engine)["big"]["output"]) == len(big)


@pytest.mark.parametrize("name, content, fmt, message", [
    ("empty.jsonl", b"", None, "is empty"),
    ("empty.csv", b"", None, "is empty"),
    ("bad.json", b'[{"input": "a"},', None, "is not valid JSON"),
    ("scalar.json", b"42", None, "expected a JSON array of objects"),
    ("calls.txt", b'{"input": "a"}', None, "cannot tell the format"),
    ("calls.jsonl", b'{"input": "a"}', "xml", "unknown format 'xml'"),
    ("calls.parquet", b"not parquet", None, "not a readable Parquet file"),
])
def test_unusable_files_raise_a_clear_error(engine, tmp_path, name, content, fmt, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFileError, match=message):
        import_file(engine, path, fmt=fmt)
    assert count_calls(engine) == 0


def test_missing_file_and_folder_raise_a_clear_error(engine, tmp_path):
    with pytest.raises(ImportFileError, match="no such file"):
        import_file(engine, tmp_path / "missing.jsonl")
    (tmp_path / "folder.jsonl").mkdir()
    with pytest.raises(ImportFileError, match="is a folder, not a file"):
        import_file(engine, tmp_path / "folder.jsonl")


def test_on_error_abort_imports_nothing_and_lists_every_problem(engine, tmp_path):
    path = write_lines(tmp_path / "mixed.jsonl", [
        '{"input": "good"}', "{oops", '{"input": "t", "latency_ms": "slow"}', '{"output": "x"}',
    ])
    summary = import_file(engine, path, on_error="abort")
    assert summary.aborted
    assert problems(summary) == [("line 2", ""), ("line 3", "latency_ms"), ("line 4", "input")]
    assert (summary.imported, count_calls(engine)) == (0, 0)


def test_on_error_abort_imports_a_clean_file(engine, tmp_path):
    path = write_jsonl(tmp_path / "ok.jsonl", [{"input": "a"}, {"input": "b"}])
    summary = import_file(engine, path, on_error="abort")
    assert (summary.aborted, summary.imported, count_calls(engine)) == (False, 2, 2)


# --- idempotence -------------------------------------------------------------------------------


@pytest.mark.parametrize("records, mapping", [
    ([{"input": f"q{i}", "request": {"id": f"r{i}"}} for i in range(5)],
     {"external_id": "request.id"}),
    ([{"input": f"q{i}", "output": "same"} for i in range(5)], {}),
], ids=["mapped-external-ids", "content-hash"])
def test_importing_twice_adds_nothing(engine, tmp_path, records, mapping):
    path = write_jsonl(tmp_path / "calls.jsonl", records)
    first = import_file(engine, path, mapping=mapping)
    again = import_file(engine, path, mapping=mapping)
    assert (first.imported, first.already_present) == (5, 0)
    assert (again.imported, again.already_present, again.skipped) == (0, 5, 0)
    assert count_calls(engine) == 5


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_importing_twice_adds_nothing_in_other_formats(engine, tmp_path, fmt):
    records = [{"input": f"q{i}", "output": f"a{i}"} for i in range(3)]
    path = tmp_path / f"calls.{fmt}"
    if fmt == "csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["input", "output"])
            writer.writeheader()
            writer.writerows(records)
    elif fmt == "json":
        path.write_text(json.dumps(records))
    else:
        pq.write_table(pa.Table.from_pylist(records), path)
    assert import_file(engine, path).imported == 3
    again = import_file(engine, path)
    assert (again.imported, again.already_present) == (0, 3)


def test_identical_lines_are_imported_once(engine, tmp_path):
    path = write_lines(tmp_path / "dup.jsonl", ['{"input": "same"}'] * 3 + ['{"input": "other"}'])
    summary = import_file(engine, path)
    assert (summary.imported, summary.already_present) == (2, 2)


def test_identical_last_line_without_newline_is_imported_once(engine, tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_text('{"input": "same"}\n{"input": "same"}')
    summary = import_file(engine, path)
    assert (summary.imported, summary.already_present) == (1, 1)


def test_repeats_across_batches_and_progress(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(importing, "BATCH_SIZE", 2)
    records = [{"input": f"q{i % 3}", "id": f"e{i % 3}"} for i in range(7)] + [{"output": "x"}]
    path = write_jsonl(tmp_path / "calls.jsonl", records)
    seen: list[int] = []
    summary = import_file(engine, path, progress=seen.append)
    assert seen == [2, 2, 2, 1]
    assert (summary.imported, summary.already_present, summary.skipped) == (3, 4, 1)
    assert count_calls(engine) == 3


# --- export ------------------------------------------------------------------------------------


@pytest.fixture
def exported_store(engine) -> Engine:
    """12 calls: v1 then v2, one a minute from T0, two of them about llamas."""
    rows = make_rows(6, model_version="v1") + make_rows(
        6, start=T0 + timedelta(minutes=6), model_version="v2")
    rows[2]["output"] = "llamas are great"
    rows[9]["input"] = "tell me about llamas"
    add_calls(engine, rows)
    return engine


V1_INPUTS = [f"prompt number {i}" for i in range(6)]
V2_INPUTS = [*V1_INPUTS[:3], "tell me about llamas", *V1_INPUTS[4:]]


EXPORT_FILTERS = {
    "all": (CallFilter(), V1_INPUTS + V2_INPUTS),
    "version": (CallFilter(model_versions=("v2",)), V2_INPUTS),
    "date-range": (CallFilter(since=T0 + timedelta(minutes=4), until=T0 + timedelta(minutes=7)),
                   ["prompt number 4", "prompt number 5", "prompt number 0"]),
    "search": (CallFilter(search="llamas"), ["prompt number 2", "tell me about llamas"]),
    "version-and-search": (CallFilter(model_versions=("v1",), search="llamas"),
                           ["prompt number 2"]),
    "nothing": (CallFilter(model_versions=("nope",)), []),
}


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_export_with_filters(exported_store, tmp_path, subtests, fmt):
    for name, (f, expected) in EXPORT_FILTERS.items():
        with subtests.test(name):
            path = tmp_path / f"{name}.{fmt}"
            count = export_calls(exported_store, path, f=f)
            rows = read_exported(path, fmt)
            assert count == len(rows) == count_calls(exported_store, f) == len(expected)
            assert [r["input"] for r in rows] == expected
            assert {r["model_version"] for r in rows} <= set(f.model_versions or ("v1", "v2"))


def test_export_formats_have_the_exchange_columns(exported_store, tmp_path):
    export_calls(exported_store, tmp_path / "out.csv")
    export_calls(exported_store, tmp_path / "out.parquet")
    export_calls(exported_store, tmp_path / "out.data", fmt="jsonl")
    header = (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header == pq.read_schema(tmp_path / "out.parquet").names
    assert list(read_exported(tmp_path / "out.data", "jsonl")[0]) == header


def test_export_rejects_an_unknown_format(exported_store, tmp_path):
    with pytest.raises(ValueError, match="unknown export format 'txt'"):
        export_calls(exported_store, tmp_path / "out.txt")
    assert not (tmp_path / "out.txt").exists()


# --- round trips: export, then import into a second fresh store ------------------------------

ROUND_TRIP_ROWS: list[dict[str, Any]] = [
    {"input": "plain prompt", "output": "plain answer", "model_version": "v1",
     "prompt_tokens": 11, "completion_tokens": 4, "latency_ms": 250.5,
     "metadata": {"user": "ana", "scores": [1, 2.5], "nested": {"a": None}},
     "external_id": "ext-1", "session_id": "s-1"},
    {"input": CHAT, "output": "Tout droit.", "model_version": "v2", "prompt_tokens": 20,
     "metadata": {"lang": "fr"}},
    {"input": 'quotes "x", commas, ; and\nnewlines — é 漢字 🙂', "output": None,
     "model_version": "v2", "error": "TimeoutError: 30 s", "completion_tokens": 0},
]
FORMATS = ["jsonl", "csv", "parquet"]
@pytest.fixture
def round_trip(engine, second_engine, tmp_path, request) -> tuple[dict, dict]:
    fmt = request.param
    rows = [dict(r, created_at=T0 + timedelta(seconds=i)) for i, r in enumerate(ROUND_TRIP_ROWS)]
    add_calls(engine, rows)
    path = tmp_path / f"export.{fmt}"
    assert export_calls(engine, path) == len(rows)
    summary = import_file(second_engine, path)
    assert (summary.imported, summary.problems) == (len(rows), [])
    return by_input(engine), by_input(second_engine)


@pytest.mark.parametrize("round_trip", FORMATS, indirect=True)
def test_round_trip_keeps_calls(round_trip):
    before, after = round_trip
    assert set(after) == set(before)
    kept = ("input", "output", "model_version", "prompt_tokens", "completion_tokens",
            "latency_ms", "error", "session_id", "created_at")
    for key, call in before.items():
        assert {k: after[key][k] for k in kept} == {k: call[k] for k in kept}
    assert after[json.dumps(CHAT)]["input"] == CHAT
    assert after["plain prompt"]["external_id"] == "ext-1"


@pytest.mark.parametrize("round_trip", FORMATS, indirect=True)
def test_round_trip_keeps_metadata(round_trip):
    before, after = round_trip
    assert {k: c["metadata"] for k, c in after.items()} == {
        k: c["metadata"] for k, c in before.items()}


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_twice_is_idempotent(engine, second_engine, tmp_path, fmt):
    add_calls(engine, make_rows(4, model_version="v1"))
    path = tmp_path / f"export.{fmt}"
    export_calls(engine, path)
    assert import_file(second_engine, path).imported == 4
    again = import_file(second_engine, path)
    assert (again.imported, again.already_present) == (0, 4)


def test_one_list_of_call_fields_matches_log_call_and_the_export() -> None:
    """exchange.fields is the one list: log_call's fields, the export's columns, the import's
    defaults and what a stored call reads back as, all in step."""
    import inspect

    from evalboard.client.connection import Evalboard
    from evalboard.exchange.fields import EXPORT_COLUMNS, FIELD_NAMES
    from evalboard.store.calls_query import call_as_dict
    from evalboard.store.models import Call
    from evalboard.store.records import normalize_call

    logged = [name for name, p in inspect.signature(Evalboard.log_call).parameters.items()
              if name != "self"]
    assert sorted(logged) == sorted(FIELD_NAMES)
    assert sorted(inspect.signature(normalize_call).parameters) == sorted(FIELD_NAMES)
    call = Call(id=1, created_at=T0, source="import", input_text="q", output="a")
    assert tuple(call_as_dict(call, "v1")) == EXPORT_COLUMNS
