"""The one clock: every "now" in evalboard comes from `clock.now()`, so a test, a demo or a
benchmark can set the date instead of reading the wall clock behind anyone's back.

`EVALBOARD_NOW` (ISO 8601, read as UTC when it has no zone) anchors the clock for a whole
process, e.g. a Streamlit server that a browser test starts; `clock.set_now()` and
`clock.fixed()` do the same in-process. An anchored clock keeps ticking from its anchor (so
durations and ordering stay real) unless it is frozen.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

NOW_ENV = "EVALBOARD_NOW"


@dataclass(frozen=True)
class _Anchor:
    at: datetime
    since: float  # time.monotonic() when anchored
    ticking: bool


_anchor: _Anchor | None = None
_env_anchor: tuple[str, _Anchor] | None = None


def parse_now(text: str) -> datetime:
    """An ISO 8601 instant as naive UTC (a value without a zone is taken as UTC)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"{NOW_ENV}: not an ISO 8601 date or time: {text!r}") from exc
    return to_naive_utc(value)


def to_naive_utc(value: datetime) -> datetime:
    """Naive UTC, the way the store keeps every timestamp."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _read(anchor: _Anchor) -> datetime:
    if not anchor.ticking:
        return anchor.at
    return anchor.at + timedelta(seconds=time.monotonic() - anchor.since)


def _from_env() -> _Anchor | None:
    global _env_anchor
    text = os.environ.get(NOW_ENV)
    if not text:
        return None
    if _env_anchor is None or _env_anchor[0] != text:
        _env_anchor = (text, _Anchor(parse_now(text), time.monotonic(), ticking=True))
    return _env_anchor[1]


def now() -> datetime:
    """Naive UTC now: the anchored clock if one is set, else the wall clock."""
    anchor = _anchor or _from_env()
    if anchor is not None:
        return _read(anchor)
    return datetime.now(UTC).replace(tzinfo=None)


def today() -> datetime:
    """Midnight (UTC) of today's date."""
    return datetime.combine(now().date(), datetime.min.time())


def set_now(at: datetime | None, *, ticking: bool = True) -> None:
    """Anchor this process's clock at `at` (None: back to the wall clock)."""
    global _anchor
    _anchor = None if at is None else _Anchor(to_naive_utc(at), time.monotonic(), ticking)


@contextmanager
def fixed(at: datetime, *, ticking: bool = True) -> Iterator[None]:
    """Within the block, `now()` starts at `at`."""
    global _anchor
    previous = _anchor
    set_now(at, ticking=ticking)
    try:
        yield
    finally:
        _anchor = previous
