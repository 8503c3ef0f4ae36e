"""The logging client: `evalboard.connect()` and `log_call`, a decorator and a context manager."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from sqlalchemy import Engine

from evalboard.client import shutdown
from evalboard.client.writer import BatchWriter, Rows
from evalboard.store import open_store
from evalboard.store.ids import IdPool, PrefetchingIdPool
from evalboard.store.records import normalize_call
from evalboard.store.writes import write_calls

if TYPE_CHECKING:
    from evalboard.client.spool import Spool
    from evalboard.runs.results import RunSummary

P = ParamSpec("P")
R = TypeVar("R")
ChatMessages = Sequence[Mapping[str, Any]]
Mode = Literal["batch", "sync", "durable"]
MODES = ("batch", "sync", "durable")
_RESOLVED_KEPT = 100_000  # batch-mode ids resolved to an earlier call's id, kept for stored_id()

log = logging.getLogger(__name__)


@dataclass
class Recording:
    """What a `record()` block fills in; latency and errors are captured for you."""

    input: str | ChatMessages
    output: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


class Evalboard:
    """A connection to an evalboard store that logs calls.

    mode="batch" (the default) returns from `log_call` at once and writes in the background;
    mode="durable" also appends each call to a local spool file before returning, replayed at
    the next durable start if the process dies first; mode="sync" writes each call before
    returning, for scripts and tests. `flush()`, `close()`, SIGTERM/SIGINT and interpreter exit
    wait at most `flush_timeout` seconds for pending writes and then say what is left.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        mode: Mode = "batch",
        model_version: str | None = None,
        source: str = "production",
        batch_size: int = 500,
        flush_interval: float = 0.2,
        max_pending: int = 20_000,
        dead_letter: str | Path | None = None,
        flush_timeout: float = 10.0,
        handle_signals: bool = True,
        spool_dir: str | Path | None = None,
        upgrade: bool = True,  # False: a store with data behind head raises StoreBehindError
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.engine: Engine = open_store(url, upgrade=upgrade)
        self.mode = mode
        self.model_version = model_version
        self.source = source
        self.dead_letter = Path(dead_letter) if dead_letter else default_dead_letter(self.engine)
        self._ids_lock = threading.Lock()
        self._resolved: OrderedDict[int, int] = OrderedDict()
        self._writer: BatchWriter | None = None
        self._spool: Spool | None = None
        if mode == "sync":
            self._ids: IdPool | PrefetchingIdPool = IdPool(self.engine, block_size=100)
            return
        self._ids = PrefetchingIdPool(self.engine, block_size=max(batch_size, 100),
                                      max_block=max_pending, wait_s=flush_timeout)
        writer_options: dict[str, Any] = {}
        if mode == "durable":
            from evalboard.client.durable import replay_spools, spooled_writer_options
            from evalboard.client.spool import Spool

            folder = Path(spool_dir) if spool_dir else default_spool_dir(self.engine)
            replay_spools(self.engine, self._ids, folder, self.dead_letter, flush_timeout)
            self._spool = Spool(folder)
            writer_options = spooled_writer_options(self._spool)
        self._writer = BatchWriter(
            self._write_batch,
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_pending=max_pending,
            dead_letter=self.dead_letter,
            flush_timeout=flush_timeout,
            **writer_options,
        )
        shutdown.watch(self, signals=handle_signals)

    def _write_batch(self, rows: Rows) -> None:
        summary = write_calls(self.engine, rows, self._ids)
        for row, stored in zip(rows, summary.ids, strict=False):
            if stored != row["id"]:  # its external id was stored already, under `stored`
                with self._ids_lock:
                    self._resolved[row["id"]] = stored
                    while len(self._resolved) > _RESOLVED_KEPT:
                        self._resolved.popitem(last=False)

    def log_call(
        self,
        input: str | ChatMessages,  # noqa: A002 - the public field name
        output: Any = None,
        *,
        model_version: str | None = None,
        source: str | None = None,
        latency_ms: float | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        error: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        session_id: str | None = None,
        external_id: str | None = None,
        created_at: Any = None,
    ) -> int:
        """Log one call and return its id; a bad field raises CallValidationError (a
        ValueError; CallTypeError, also a TypeError, for a value of a type that cannot be
        stored) here, in the caller's thread.

        sync mode returns the stored id: with an `external_id` stored already (same source),
        that call's id. batch and durable modes return the id reserved for the call at once;
        when its external id turns out to be stored already, the call is not written again and
        `stored_id(id)` gives the stored call's id.
        """
        row = normalize_call(
            input=input,
            output=output,
            model_version=model_version or self.model_version,
            source=source or self.source,
            latency_ms=latency_ms,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            error=error,
            metadata=metadata,
            session_id=session_id,
            external_id=external_id,
            created_at=created_at,
        )
        if self._writer is None:
            with self._ids_lock:
                row["id"] = self._ids.take()
            return write_calls(self.engine, [row], self._ids).ids[0]
        row["id"] = self._ids.take()
        if self._spool is not None:
            self._spool.append(row)
        self._writer.put(row)
        return row["id"]

    def stored_id(self, call_id: int) -> int:
        """The id under which the call `log_call` returned `call_id` for is stored: `call_id`
        itself, or the id of the call that already had its (source, external_id). Flushes
        first (raises FlushTimeout if the call is not written in time)."""
        self.flush()
        with self._ids_lock:
            return self._resolved.get(call_id, call_id)

    @contextmanager
    def record(
        self,
        input: str | ChatMessages,
        **fields: Any,  # noqa: A002
    ) -> Iterator[Recording]:
        """Time a generation: set `.output` (and token counts) inside the block.

        An exception inside the block is logged as the call's error and raised again.
        """
        recording = Recording(input=input)
        started = time.perf_counter()
        error: str | None = None
        try:
            yield recording
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            metadata = {**(fields.pop("metadata", None) or {}), **recording.metadata} or None
            recording.id = self.log_call(
                recording.input,
                recording.output,
                latency_ms=(time.perf_counter() - started) * 1000,
                prompt_tokens=recording.prompt_tokens,
                completion_tokens=recording.completion_tokens,
                error=error,
                metadata=metadata,
                **fields,
            )

    def trace(self, **fields: Any) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Decorate `generate(prompt_or_messages, ...) -> text` so every call is logged."""

        def decorate(generate: Callable[P, R]) -> Callable[P, R]:
            @functools.wraps(generate)
            def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                prompt = args[0] if args else kwargs.get("prompt", kwargs.get("messages"))
                if prompt is None:
                    raise TypeError(f"{generate.__name__}() got no prompt or messages to log")
                with self.record(prompt, **fields) as recording:  # type: ignore[arg-type]
                    result = generate(*args, **kwargs)
                    recording.output = result  # type: ignore[assignment] - JSON if structured
                return result

            return wrapper

        return decorate

    def run_suite(
        self,
        suite: str,
        *,
        generate: Callable[[Any], Any] | None = None,
        model_version: str | None = None,
        tags: Sequence[str] = (),
        labels: Sequence[str] = (),
    ) -> RunSummary:
        """Run a suite's active cases through `generate(prompt_or_messages) -> text` (or, with
        generate=None, replay the version's logged calls); returns pass rates per label and
        per check type. Outputs are logged as eval calls of `model_version`."""
        from evalboard.runs.generators import CallableGenerator
        from evalboard.runs.runner import Selection, run_suite

        version = model_version or self.model_version
        if not version:
            raise ValueError("run_suite needs a model_version")
        self.flush()
        return run_suite(self.engine, suite, version,
                         CallableGenerator(generate) if generate else None,
                         selection=Selection(tuple(tags), tuple(labels)))

    def flush(self, timeout: float | None = None) -> None:
        """Wait (at most `timeout`, default `flush_timeout`) until every logged call is written;
        raises FlushTimeout with the count still pending, WriteError for rows that failed (they
        are kept in the dead-letter file)."""
        if self._writer is not None:
            self._writer.flush(timeout)

    @property
    def pending(self) -> int:
        """Calls accepted and not yet written (or dead-lettered)."""
        return self._writer.pending if self._writer is not None else 0

    def close(self) -> None:
        """Write what is pending (waiting at most `flush_timeout`) and release the store;
        raises FlushTimeout/WriteError saying what could not be written and where it is kept."""
        shutdown.forget(self)
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            if isinstance(self._ids, PrefetchingIdPool):
                self._ids.close()
            if self._spool is not None:
                self._spool.close()
            self.engine.dispose()

    def __enter__(self) -> Evalboard:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _beside_store(engine: Engine, name: str) -> Path:
    """`name` in the folder of a SQLite store file, else in the working directory."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if database and database != ":memory:" and not database.startswith("file:"):
        return Path(database).expanduser().resolve().parent / name
    return Path.cwd() / name


def default_dead_letter(engine: Engine) -> Path:
    """Where unwritable calls go: beside a SQLite store file, else the working directory."""
    return _beside_store(engine, f"evalboard-unwritten-{os.getpid()}.jsonl")


def default_spool_dir(engine: Engine) -> Path:
    """Durable mode's spool folder: `<store file>.spool` beside a SQLite store; for a server
    store, a folder in the working directory named after the store's URL (so two stores never
    share a spool)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if database and database != ":memory:" and not database.startswith("file:"):
        return _beside_store(engine, Path(database).name + ".spool")
    shown = engine.url.render_as_string(hide_password=True)
    return _beside_store(engine, f"evalboard-spool-{hashlib.sha1(shown.encode()).hexdigest()[:12]}")


# `evalboard.connect(url, mode=..., model_version=...)`: the client's own signature.
connect = Evalboard
