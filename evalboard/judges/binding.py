"""Which store a `judge` check reads its judges from (a check function sees no store).

`use_store(engine)` binds a store for the whole process while it lasts (monitors run checks
on a thread pool, so a context variable would not reach them); without a binding, the
configured store ($EVALBOARD_DB_URL, else the local SQLite file) is opened once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine

from evalboard.config import resolve_db_url

_lock = threading.Lock()
_bound: list[Engine] = []


@contextmanager
def use_store(engine: Engine) -> Iterator[Engine]:
    """Judge checks run while this lasts read judges from (and cache results in) `engine`."""
    with _lock:
        _bound.append(engine)
    try:
        yield engine
    finally:
        with _lock:
            _bound.remove(engine)


@lru_cache(maxsize=4)
def _configured(url: str) -> Engine:
    from evalboard.store.engine import make_engine

    return make_engine(url)


def judge_store() -> Engine:
    """The bound store (the newest binding), else the configured one."""
    with _lock:
        if _bound:
            return _bound[-1]
    return _configured(resolve_db_url())
