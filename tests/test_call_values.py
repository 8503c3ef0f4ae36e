"""The value rule of `normalize_call` (evalboard.store.values): what is converted, what is
refused with the field named, and that converted calls are stored and queried on every store."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
import pydantic
import pytest

import evalboard
from evalboard.store.calls_counts import count_calls
from evalboard.store.calls_query import CallFilter, get_call
from evalboard.store.records import (
    MAX_TOKENS,
    CallTypeError,
    CallValidationError,
    normalize_call,
)
from evalboard.store.values import MAX_DEPTH

MOMENT = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


@dataclasses.dataclass
class Sampling:
    temperature: float
    stop: tuple[str, ...]


class Params(pydantic.BaseModel):
    top_p: float
    seed: int


class Tier(enum.Enum):
    PRO = "pro"


def nested(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_metadata_values_are_converted_by_the_documented_rule():
    meta = normalize_call(input="q", metadata={
        "at": MOMENT, "day": date(2026, 2, 28), "clock": time(7, 5), "took": timedelta(seconds=1.5),
        "price": Decimal("0.25"), "count": Decimal("3"), "id": uuid.UUID(int=7),
        "tags": {"b", "a"}, "frozen": frozenset({2, 1}), "pair": ("x", 1),
        "np_int": np.int64(5), "np_float": np.float32(0.5), "np_array": np.arange(3),
        "sampling": Sampling(0.7, ("\n",)), "params": Params(top_p=0.9, seed=1),
        "tier": Tier.PRO, "nan": math.nan, "inf": math.inf, "ninf": -math.inf,
        "dnan": Decimal("NaN"), 3: "int key", "blob": b"utf-8 \xc3\xa9",
    })["meta"]
    assert meta == {
        "at": "2026-11-01T09:30:00+00:00", "day": "2026-02-28", "clock": "07:05:00",
        "took": 1.5, "price": 0.25, "count": 3, "id": "00000000-0000-0000-0000-000000000007",
        "tags": ["a", "b"], "frozen": [1, 2], "pair": ["x", 1],
        "np_int": 5, "np_float": 0.5, "np_array": [0, 1, 2],
        "sampling": {"temperature": 0.7, "stop": ["\n"]}, "params": {"top_p": 0.9, "seed": 1},
        "tier": "pro", "nan": None, "inf": None, "ninf": None, "dnan": None,
        "3": "int key", "blob": "utf-8 é",
    }
    json.dumps(meta, allow_nan=False)  # plain JSON, no NaN


def test_lone_surrogates_become_the_replacement_character_everywhere():
    row = normalize_call(
        input=[{"role": "user", "content": "hi \ud800"}], output="out \udfff",
        metadata={"key \udc00": ["value \ud83d"]}, error="err \ud800", session_id="s\ud800",
        external_id="x\ud800", model_version="v\ud800",
    )
    assert row["input_messages"] == [{"role": "user", "content": "hi \ufffd"}]
    assert row["input_text"] == "user: hi \ufffd"
    assert row["output"] == "out \ufffd"
    assert row["meta"] == {"key \ufffd": ["value \ufffd"]}
    assert (row["error"], row["session_id"], row["external_id"], row["model_version"]) == (
        "err \ufffd", "s\ufffd", "x\ufffd", "v\ufffd")
    assert normalize_call(input="pair \ud83d\ude00")["input_text"] == "pair \U0001f600"
    for value in row.values():
        json.dumps(value, default=str, ensure_ascii=False).encode("utf-8")  # encodable


def test_outputs_bytes_and_structured_values():
    assert normalize_call(input="q", output=b"caf\xc3\xa9")["output"] == "café"
    assert normalize_call(input="q", output=("a", MOMENT))["output"] == (
        '["a", "2026-11-01T09:30:00+00:00"]')
    assert normalize_call(input="q", output={"score": math.nan})["output"] == '{"score": null}'
    assert normalize_call(input="q", output=Params(top_p=1, seed=2))["output"] == (
        '{"top_p": 1.0, "seed": 2}')
    assert normalize_call(input="q", output=42)["output"] == "42"
    with pytest.raises(CallTypeError) as info:
        normalize_call(input="q", output=b"\xff\xfe")
    assert info.value.field == "output" and isinstance(info.value, TypeError)


def test_latency_nan_and_infinity_are_stored_as_null_tokens_are_bounded():
    assert normalize_call(input="q", latency_ms=math.inf)["latency_ms"] is None
    assert normalize_call(input="q", latency_ms=float("nan"))["latency_ms"] is None
    assert normalize_call(input="q", latency_ms=Decimal("12.5"))["latency_ms"] == 12.5
    row = normalize_call(input="q", prompt_tokens=np.int32(7), completion_tokens=Decimal(2))
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (7, 2, 9)
    for field, value in [("prompt_tokens", 2**63), ("completion_tokens", 2**63 + 5),
                         ("prompt_tokens", -1), ("completion_tokens", math.inf),
                         ("prompt_tokens", math.nan), ("prompt_tokens", MAX_TOKENS + 1),
                         ("prompt_tokens", Decimal("1.5"))]:
        with pytest.raises(CallValidationError) as info:
            normalize_call(input="q", **{field: value})
        assert info.value.field == field, value
    with pytest.raises(CallValidationError, match="add up"):
        normalize_call(input="q", prompt_tokens=MAX_TOKENS, completion_tokens=1)


@pytest.mark.parametrize("created_at", [math.inf, math.nan, 1e300, "not a time"])
def test_unusable_times_are_refused_with_the_field(created_at):
    with pytest.raises(CallValidationError) as info:
        normalize_call(input="q", created_at=created_at)
    assert info.value.field == "created_at"


def test_deep_nesting_and_cycles_are_refused_not_a_recursion_error():
    normalize_call(input="q", metadata=nested(MAX_DEPTH))
    for metadata in (nested(MAX_DEPTH + 1), nested(1000)):
        with pytest.raises(CallValidationError, match="nested deeper") as info:
            normalize_call(input="q", metadata=metadata)
        assert info.value.field == "metadata"
    loop: list = []
    loop.append(loop)
    with pytest.raises(CallValidationError, match="nested deeper"):
        normalize_call(input="q", output=loop)
    deep_messages = [{"role": "user", "content": "x", "extra": nested(1000)}]
    with pytest.raises(CallValidationError) as info:
        normalize_call(input=deep_messages)
    assert info.value.field == "input"


def test_unconvertible_values_raise_one_type_error_naming_the_field():
    with pytest.raises(CallTypeError) as info:
        normalize_call(input="q", metadata={"user": {"handle": object()}})
    assert info.value.field == "metadata" and '["user"]["handle"]' in str(info.value)
    with pytest.raises(TypeError):
        normalize_call(input="q", metadata={"when": {1, "mixed", object()}})
    with pytest.raises(CallTypeError) as info:
        normalize_call(input="q", metadata={"blob": b"\x80"})
    assert info.value.field == "metadata"
    with pytest.raises(CallTypeError):
        normalize_call(input="q", metadata={(1, 2): "tuple key"})


@pytest.mark.parametrize("field", ["external_id", "session_id", "model_version"])
def test_text_ids_longer_than_their_columns_are_refused_on_every_store(field):
    normalize_call(input="q", **{field: "x" * 200})
    with pytest.raises(CallValidationError) as info:
        normalize_call(input="q", **{field: "x" * 201})
    assert info.value.field == field and "200" in info.value.reason


def test_log_call_stores_converted_values_and_refuses_bad_ones_in_the_caller(db_url, engine):
    with evalboard.connect(db_url, mode="sync") as eb:
        call_id = eb.log_call("q\ud800", b"out", latency_ms=math.inf, metadata={
            "at": MOMENT, "price": Decimal("1.5"), "tags": {"x"}, "score": math.nan})
        with pytest.raises(CallTypeError):
            eb.log_call("q", metadata={"bad": object()})
    call = get_call(engine, call_id)
    assert (call.input_text, call.output, call.latency_ms) == ("q\ufffd", "out", None)
    assert call.meta == {"at": "2026-11-01T09:30:00+00:00", "price": 1.5, "tags": ["x"],
                         "score": None}


def test_a_nan_in_metadata_does_not_break_metadata_filters(db_url, engine):
    """A NaN used to be stored as the JSON text NaN, and SQLite's json functions then failed
    on every metadata filter ("malformed JSON")."""
    with evalboard.connect(db_url, mode="sync") as eb:
        eb.log_call("first", "o", metadata={"user": "u1", "score": math.nan})
        eb.log_call("second", "o", metadata={"user": "u2", "score": math.inf})
    assert count_calls(engine, CallFilter(meta_key="user", meta_value="u1")) == 1
    assert count_calls(engine, CallFilter(meta_key="score")) == 0


def test_batch_mode_refuses_in_the_caller_and_the_writer_keeps_going(db_url, engine):
    with evalboard.connect(db_url) as eb:
        eb.log_call("before", "o", metadata={"at": MOMENT})
        with pytest.raises(CallValidationError):
            eb.log_call("bad", prompt_tokens=2**63)
        with pytest.raises(CallValidationError):
            eb.log_call("bad", metadata=nested(1000))
        last = eb.log_call("after", "o", metadata={"tags": {"a"}, "id": uuid.uuid4()})
        eb.flush()
    assert count_calls(engine) == 2
    assert get_call(engine, last).meta["tags"] == ["a"]
