"""The logging client: `evalboard.connect()` and `log_call`, a decorator and a context manager."""

from __future__ import annotations

import atexit
import functools
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from sqlalchemy import Engine

from evalboard.store import open_store
from evalboard.store.ids import IdPool
from evalboard.store.records import normalize_call
from evalboard.store.writes import write_calls
from evalboard.writer import BatchWriter

if TYPE_CHECKING:
    from evalboard.runs.results import RunSummary

P = ParamSpec("P")
R = TypeVar("R")
ChatMessages = Sequence[Mapping[str, Any]]
Mode = Literal["batch", "sync"]


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
    mode="sync" writes each call before returning, for scripts and tests.
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
    ) -> None:
        if mode not in ("batch", "sync"):
            raise ValueError(f"mode must be 'batch' or 'sync', got {mode!r}")
        self.engine: Engine = open_store(url)
        self.mode = mode
        self.model_version = model_version
        self.source = source
        self._ids = IdPool(self.engine, block_size=max(batch_size, 100))
        self._ids_lock = threading.Lock()
        self._writer: BatchWriter | None = None
        if mode == "batch":
            letter = (
                Path(dead_letter)
                if dead_letter
                else Path(f"evalboard-unwritten-{os.getpid()}.jsonl")
            )
            self._writer = BatchWriter(
                self._write_batch,
                batch_size=batch_size,
                flush_interval=flush_interval,
                max_pending=max_pending,
                dead_letter=letter,
            )
            _flush_at_exit(self)

    def _write_batch(self, rows: list[dict[str, Any]]) -> None:
        write_calls(self.engine, rows, self._ids)

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
        """Log one call and return its id (raises CallValidationError for a bad field)."""
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
        with self._ids_lock:
            row["id"] = self._ids.take()
        if self._writer is None:
            write_calls(self.engine, [row], self._ids)
        else:
            self._writer.put(row)
        return row["id"]

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

    def flush(self) -> None:
        """Wait until every logged call is written (raises WriteError for rows that failed)."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self.engine.dispose()

    def __enter__(self) -> Evalboard:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _flush_at_exit(client: Evalboard) -> None:
    ref = weakref.ref(client)

    def close_if_alive() -> None:
        alive = ref()
        if alive is not None and alive._writer is not None:
            alive._writer.close()

    atexit.register(close_if_alive)


def default_dead_letter(engine: Engine) -> Path:
    """Where unwritable calls go: beside a SQLite store file, else the working directory."""
    name = f"evalboard-unwritten-{os.getpid()}.jsonl"
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if database and database != ":memory:" and not database.startswith("file:"):
        return Path(database).expanduser().resolve().parent / name
    return Path.cwd() / name


# `evalboard.connect(url, mode=..., model_version=...)`: the client's own signature.
connect = Evalboard
