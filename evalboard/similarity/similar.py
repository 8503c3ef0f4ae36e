"""Find similar calls: brute-force cosine similarity over the stored embeddings.

    from evalboard.similarity.similar import most_similar
    most_similar(engine, call_id, k=10, field="output")   # [(call_id, score), ...]

A `SimilarityIndex` holds one float32 matrix of every embedded call (about 1.5 kB a call) and
answers with one matrix-vector product (10-60 ms at 100k calls on 2 cores). It loads the store once
and then only reads what is new: each query reads the embeddings with a call id above the largest
one it holds (an index range, milliseconds), and at most every `recheck_seconds` it compares
counts, which catches calls embedded out of id order (ids come in blocks per writer) and
deleted calls. A query call without an embedding is embedded on the spot.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
from sqlalchemy import Engine, Row, func, select
from sqlalchemy.orm import InstrumentedAttribute

from evalboard.similarity.embeddings import (
    DIM,
    MODEL_NAME,
    Embedder,
    embed_calls,
    from_blobs,
    get_embedder,
)
from evalboard.store.models import Call
from evalboard.store.review_models import CallEmbedding

if TYPE_CHECKING:
    from numpy.typing import NDArray

Field = Literal["output", "input", "both"]
FIELDS: tuple[str, ...] = get_args(Field)
LOAD_CHUNK = 5000  # rows per read while loading
RECHECK_SECONDS = 60.0
_IN_CHUNK = 500


def combine(inputs: NDArray[np.float32], outputs: NDArray[np.float32]) -> NDArray[np.float32]:
    """The "both" vectors: mean of input and output, renormalised (zero stays zero)."""
    both = inputs + outputs
    norms = np.linalg.norm(both, axis=1, keepdims=True)
    return np.divide(both, norms, out=np.zeros_like(both), where=norms > 0)


class SimilarityIndex:
    """Every embedded call of one store as rows of a float32 matrix, for one field.

    Not bound to an engine: pass the same store's engine to every method. Thread-safe.
    """

    def __init__(
        self,
        field: Field = "output",
        model: str = MODEL_NAME,
        embedder: Embedder | None = None,
        recheck_seconds: float = RECHECK_SECONDS,
    ) -> None:
        if field not in FIELDS:
            raise ValueError(f"field must be one of {', '.join(FIELDS)}, got {field!r}")
        self.field = field
        self.model = model
        self.recheck_seconds = recheck_seconds
        self._embedder = embedder
        self._matrix = np.zeros((0, DIM), dtype=np.float32)  # grows by doubling
        self._ids = np.zeros(0, dtype=np.int64)
        self._size = 0
        self._rows: dict[int, int] = {}
        self._max_id = 0
        self._checked_at = float("-inf")
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return self._size

    @property
    def max_call_id(self) -> int:
        """The largest call id loaded (0 when empty)."""
        return self._max_id

    # -- loading ---------------------------------------------------------------------------

    def _columns(self) -> list[InstrumentedAttribute[bytes]]:
        if self.field == "both":
            return [CallEmbedding.input_vector, CallEmbedding.output_vector]
        if self.field == "input":
            return [CallEmbedding.input_vector]
        return [CallEmbedding.output_vector]

    def _vectors(self, rows: Sequence[Row[Any]]) -> NDArray[np.float32]:
        if self.field == "both":
            return combine(from_blobs(r[1] for r in rows), from_blobs(r[2] for r in rows))
        return from_blobs(r[1] for r in rows)

    def _add(self, ids: Sequence[int], vectors: NDArray[np.float32]) -> None:
        fresh = [n for n, call_id in enumerate(ids) if call_id not in self._rows]
        if not fresh:
            return
        end = self._size + len(fresh)
        if end > len(self._matrix):
            capacity = max(end, 2 * len(self._matrix), 1024)
            matrix = np.zeros((capacity, DIM), dtype=np.float32)
            matrix[: self._size] = self._matrix[: self._size]
            ids_buffer = np.zeros(capacity, dtype=np.int64)
            ids_buffer[: self._size] = self._ids[: self._size]
            self._matrix, self._ids = matrix, ids_buffer
        self._matrix[self._size : end] = vectors[fresh]
        new_ids = [ids[n] for n in fresh]
        self._ids[self._size : end] = new_ids
        self._rows.update(zip(new_ids, range(self._size, end), strict=True))
        self._size = end
        self._max_id = max(self._max_id, max(new_ids))

    def _load_tail(self, engine: Engine) -> int:
        """Read the embeddings of call ids above `max_call_id`, in keyset chunks."""
        before, after = self._size, self._max_id
        while True:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(CallEmbedding.call_id, *self._columns())
                    .where(CallEmbedding.call_id > after, CallEmbedding.model == self.model)
                    .order_by(CallEmbedding.call_id)
                    .limit(LOAD_CHUNK)
                ).all()
            if not rows:
                return self._size - before
            self._add([r[0] for r in rows], self._vectors(rows))
            after = rows[-1][0]

    def _load_ids(self, engine: Engine, call_ids: Sequence[int]) -> int:
        before = self._size
        for start in range(0, len(call_ids), _IN_CHUNK):
            with engine.connect() as conn:
                rows = conn.execute(
                    select(CallEmbedding.call_id, *self._columns())
                    .where(
                        CallEmbedding.call_id.in_(call_ids[start : start + _IN_CHUNK]),
                        CallEmbedding.model == self.model,
                    )
                ).all()
            if rows:
                self._add([r[0] for r in rows], self._vectors(rows))
        return self._size - before

    def _reconcile(self, engine: Engine) -> None:
        """Compare ids with the store: load what was missed, drop what was deleted."""
        with engine.connect() as conn:
            stored = set(
                conn.scalars(
                    select(CallEmbedding.call_id).where(CallEmbedding.model == self.model)
                )
            )
        gone = set(self._rows) - stored
        if gone:
            keep = ~np.isin(self._ids[: self._size], np.fromiter(gone, dtype=np.int64))
            self._matrix = self._matrix[: self._size][keep].copy()
            self._ids = self._ids[: self._size][keep].copy()
            self._size = len(self._ids)
            self._rows = {int(c): n for n, c in enumerate(self._ids)}
            self._max_id = int(self._ids.max()) if self._size else 0
        self._load_ids(engine, sorted(stored - set(self._rows)))

    def refresh(self, engine: Engine, full: bool = False) -> int:
        """Read what was embedded since the last refresh; return how many calls were added.

        The tail (call ids above `max_call_id`) is read every time. When `full` is set, or
        `recheck_seconds` have passed, the stored count is compared with the loaded one and,
        if they differ, ids are reconciled with the store.
        """
        with self._lock:
            before = self._size
            self._load_tail(engine)
            if before == 0 and not full:  # the tail was the whole store
                self._checked_at = time.monotonic()
            elif full or time.monotonic() - self._checked_at >= self.recheck_seconds:
                with engine.connect() as conn:
                    count = conn.execute(
                        select(func.count())
                        .select_from(CallEmbedding)
                        .where(CallEmbedding.model == self.model)
                    ).scalar_one()
                if count != self._size:
                    self._reconcile(engine)
                self._checked_at = time.monotonic()
            return self._size - before

    # -- queries ---------------------------------------------------------------------------

    def search(
        self, query: NDArray[np.float32], k: int = 10, exclude: Iterable[int] = ()
    ) -> list[tuple[int, float]]:
        """The `k` loaded calls most similar to a normalised vector, best first.

        Ties are broken by the smaller call id; a zero query vector matches nothing.
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        query = np.asarray(query, dtype=np.float32).reshape(DIM)
        if not query.any():
            return []
        with self._lock:
            scores = self._matrix[: self._size] @ query
            ids = self._ids[: self._size]
            excluded = [self._rows[c] for c in exclude if c in self._rows]
        scores[excluded] = -np.inf
        k = min(k, len(scores) - len(excluded))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.lexsort((ids[top], -scores[top]))]
        return [(int(ids[n]), float(scores[n])) for n in top]

    def vector(self, engine: Engine, call_id: int) -> NDArray[np.float32]:
        """The call's vector for this field, embedding the call first if it has none yet."""
        with self._lock:
            if call_id not in self._rows:
                self._load_ids(engine, [call_id])
            row = self._rows.get(call_id)
            if row is not None:
                return self._matrix[row].copy()
        with engine.connect() as conn:
            found = conn.execute(
                select(Call.id, CallEmbedding.model)
                .outerjoin(CallEmbedding, CallEmbedding.call_id == Call.id)
                .where(Call.id == call_id)
            ).first()
        if found is None:
            raise LookupError(f"no call with id {call_id}")
        if found.model is not None:
            raise ValueError(f"call {call_id} was embedded with {found.model}, not {self.model}")
        embed_calls(engine, [call_id], self._embedder or get_embedder())
        with self._lock:
            self._load_ids(engine, [call_id])
            return self._matrix[self._rows[call_id]].copy()

    def most_similar(
        self, engine: Engine, call_id: int, k: int = 10, exclude_same_call: bool = True
    ) -> list[tuple[int, float]]:
        """The `k` calls most similar to `call_id` as (call_id, cosine score), best first.

        A call whose field is empty (no output, say) has the zero vector and no neighbours.
        """
        self.refresh(engine)
        query = self.vector(engine, call_id)
        return self.search(query, k, exclude=(call_id,) if exclude_same_call else ())


_indexes: weakref.WeakKeyDictionary[Engine, dict[str, SimilarityIndex]] = (
    weakref.WeakKeyDictionary()
)
_indexes_lock = threading.Lock()


def get_index(engine: Engine, field: Field = "output") -> SimilarityIndex:
    """The process-wide index of a store's engine for one field, created on first use."""
    with _indexes_lock:
        per_field = _indexes.setdefault(engine, {})
        if field not in per_field:
            per_field[field] = SimilarityIndex(field)
        return per_field[field]


def most_similar(
    engine: Engine,
    call_id: int,
    k: int = 10,
    field: Field = "output",
    exclude_same_call: bool = True,
) -> list[tuple[int, float]]:
    """The `k` calls most similar to `call_id` (by output, input or both), best first.

    Uses the engine's shared `SimilarityIndex`, which loads the store once and then only
    reads new embeddings; the query call is embedded on demand if it has no embedding yet.
    """
    return get_index(engine, field).most_similar(engine, call_id, k, exclude_same_call)


ON_DEMAND_NEIGHBOURS = 200  # calls embedded beside a query call when few others are


@dataclass(frozen=True)
class SimilarityReadiness:
    """Whether a call can be compared now: it has an embedding, and how many others do."""

    embedded: bool
    others: int  # other embedded calls, counted up to ON_DEMAND_NEIGHBOURS

    @property
    def ready(self) -> bool:
        return self.embedded and self.others > 0


def readiness(engine: Engine, call_id: int, model: str = MODEL_NAME) -> SimilarityReadiness:
    """The call's embedding row, and a bounded count of the others (reads at most
    ON_DEMAND_NEIGHBOURS rows however many calls are embedded)."""
    with engine.connect() as conn:
        embedded = conn.execute(select(CallEmbedding.call_id).where(
            CallEmbedding.call_id == call_id, CallEmbedding.model == model)).first() is not None
        others = select(CallEmbedding.call_id).where(
            CallEmbedding.model == model, CallEmbedding.call_id != call_id
        ).limit(ON_DEMAND_NEIGHBOURS).subquery()
        count = conn.execute(select(func.count()).select_from(others)).scalar_one()
    return SimilarityReadiness(embedded, count)


def embed_on_demand(engine: Engine, call_id: int, neighbours: int = ON_DEMAND_NEIGHBOURS,
                    embedder: Embedder | None = None) -> int:
    """Embed a call so its similar calls can be listed: the call itself, and, while fewer
    than `neighbours` other calls are embedded, the newest calls of its model version that
    are not (up to `neighbours` in all; bounded: a few seconds on a CPU). Returns how many
    other calls were embedded. Unknown call: LookupError."""
    with engine.connect() as conn:
        version_id = conn.execute(select(Call.model_version_id)
                                  .where(Call.id == call_id)).scalar()
    if version_id is None:
        raise LookupError(f"no call with id {call_id}")
    embedder = embedder or get_embedder()
    embed_calls(engine, [call_id], embedder)
    missing = neighbours - readiness(engine, call_id).others
    newest: list[int] = []
    if missing > 0:
        with engine.connect() as conn:
            newest = list(conn.scalars(
                select(Call.id)
                .where(Call.model_version_id == version_id, Call.id != call_id,
                       ~select(CallEmbedding.call_id).where(CallEmbedding.call_id == Call.id)
                       .exists())
                .order_by(Call.created_at.desc(), Call.id.desc()).limit(missing)))
    added = embed_calls(engine, newest, embedder) if newest else 0
    with _indexes_lock:  # indexes loaded before: these ids may lie below what they hold
        loaded = list(_indexes.get(engine, {}).values())
    for index in loaded:
        with index._lock:
            index._load_ids(engine, [call_id, *newest])
    return added
