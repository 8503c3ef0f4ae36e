"""Recurring failures: the calls that failed a monitor, or that reviewers labelled with a failure
mode, grouped by what their outputs say.

    groups = failure_groups(engine)                # ("label", "hallucination"), ("monitor", ...)
    report = cluster_failures(engine, groups[0])   # k-means on sentence embeddings, seeded
    report.clusters[0].sizes                       # {"support-bot-v3": 12, "support-bot-v4": 0}
    report.fixed("support-bot-v3", "support-bot-v4")

Embeddings come from the local MiniLM index (evalboard.similarity.embeddings): the calls of a
group that have none are embedded first (a group is bounded: its newest MAX_CALLS calls).
Clustering is k-means in numpy with k-means++ seeding from a fixed seed (the tightest of a few
runs); without a given k, the k of the best silhouette from 2 to MAX_CLUSTERS among those whose
centroids are distinct patterns, or 1 when no split is clearly better. Each cluster keeps its
calls closest to the centroid as representatives, and its distinctive words: TF-IDF of the
cluster's outputs as one document against the other clusters'.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Engine, select

from evalboard.errors import EvalboardError
from evalboard.review.annotations import is_final_answer
from evalboard.similarity.embeddings import embed_calls, from_blobs
from evalboard.similarity.similar import combine
from evalboard.store.models import Call, ModelVersion
from evalboard.store.monitor_models import Monitor, MonitorResult
from evalboard.store.review_models import Annotation, CallEmbedding, Label, annotation_labels

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from evalboard.similarity.embeddings import Embedder

MAX_CALLS = 2000
MAX_CLUSTERS = 8
MIN_SILHOUETTE = 0.2  # a split must beat this mean silhouette to be worth showing
# Clusters whose centroids have at least this cosine are one pattern (MiniLM puts unrelated
# failure kinds near 0.5 and variations of one kind above 0.6 to 0.8).
SAME_PATTERN = 0.8
REPRESENTATIVES = 3
RESTARTS = 8  # k-means runs from different seeds; the tightest wins
WORDS = 6
_WORD = re.compile(r"[^\W\d_]{3,}")
STOP_WORDS = frozenset("""the and for are but not you your with this that have has had was were
will would can could should from they them their there here what which who whom when where why
how all any each few more most other some such only own same than too very just also into over
about after before again then once our ours its it's his her hers him she he been being does did
doing let may might must shall yes because while until above below between through during out
off under further both nor these those well like""".split())  # noqa: SIM905 - a word list


class ClusterError(EvalboardError, ValueError):
    """A failure group that cannot be clustered (unknown monitor or label)."""


@dataclass(frozen=True)
class FailureGroup:
    """The failures of one label or one monitor."""

    kind: str  # "label" or "monitor"
    name: str

    @property
    def title(self) -> str:
        return f"{'Label' if self.kind == 'label' else 'Monitor'}: {self.name}"


@dataclass(frozen=True)
class FailureCluster:
    """Calls that fail alike: their ids, count per model version, representatives, words."""

    number: int
    call_ids: tuple[int, ...]
    sizes: dict[str, int]  # every version on the report's axis, 0 where it has none
    representatives: tuple[int, ...]
    words: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.call_ids)


@dataclass(frozen=True)
class ClusterReport:
    group: FailureGroup
    versions: tuple[str, ...]  # in creation order
    clusters: tuple[FailureCluster, ...]  # largest first

    def fixed(self, base: str, candidate: str) -> list[FailureCluster]:
        """Clusters that had calls on `base` and none on `candidate`."""
        return [c for c in self.clusters if c.sizes.get(base) and not c.sizes.get(candidate)]

    def introduced(self, base: str, candidate: str) -> list[FailureCluster]:
        """Clusters with calls on `candidate` and none on `base`."""
        return [c for c in self.clusters if c.sizes.get(candidate) and not c.sizes.get(base)]


def failure_groups(engine: Engine) -> list[FailureGroup]:
    """Failure labels on some final answer, then monitors with a failing result."""
    with engine.connect() as conn:
        labels = conn.scalars(
            select(Label.name).where(Label.kind == "failure", Label.id.in_(
                select(annotation_labels.c.label_id).join(
                    Annotation, Annotation.id == annotation_labels.c.annotation_id)
                .where(is_final_answer())))
            .order_by(Label.position, Label.name)).all()
        monitors = conn.scalars(
            select(Monitor.name).where(Monitor.id.in_(
                select(MonitorResult.monitor_id).where(MonitorResult.passed.is_(False))))
            .order_by(Monitor.name)).all()
    return [*(FailureGroup("label", n) for n in labels),
            *(FailureGroup("monitor", n) for n in monitors)]


def group_call_ids(engine: Engine, group: FailureGroup, limit: int = MAX_CALLS) -> list[int]:
    """The group's newest `limit` calls (by id)."""
    with engine.connect() as conn:
        if group.kind == "monitor":
            monitor_id = conn.scalar(select(Monitor.id).where(Monitor.name == group.name))
            if monitor_id is None:
                raise ClusterError(f"there is no monitor {group.name!r}")
            query = (select(MonitorResult.call_id).distinct()
                     .where(MonitorResult.monitor_id == monitor_id,
                            MonitorResult.passed.is_(False))
                     .order_by(MonitorResult.call_id.desc()))
        elif group.kind == "label":
            label_id = conn.scalar(select(Label.id).where(Label.name == group.name))
            if label_id is None:
                raise ClusterError(f"there is no label {group.name!r}")
            query = (select(Annotation.call_id).distinct()
                     .join(annotation_labels,
                           annotation_labels.c.annotation_id == Annotation.id)
                     .where(is_final_answer(), annotation_labels.c.label_id == label_id)
                     .order_by(Annotation.call_id.desc()))
        else:
            raise ClusterError(f"a failure group is a label or a monitor, not {group.kind!r}")
        return list(conn.scalars(query.limit(limit)))


def _vectors(engine: Engine, call_ids: Sequence[int], embedder: Embedder | None
             ) -> tuple[list[int], NDArray[np.float32], list[str], list[str]]:
    """(ids, vectors of input and output combined, outputs, versions) of the calls, embedding
    those without an embedding first."""
    embed_calls(engine, call_ids, embedder)
    ids: list[int] = []
    inputs: list[bytes] = []
    outputs: list[bytes] = []
    texts: list[str] = []
    versions: list[str] = []
    with engine.connect() as conn:
        for start in range(0, len(call_ids), 500):
            chunk = sorted(call_ids)[start:start + 500]
            for call_id, in_vec, out_vec, output, version in conn.execute(
                    select(Call.id, CallEmbedding.input_vector, CallEmbedding.output_vector,
                           Call.output, ModelVersion.name)
                    .join(CallEmbedding, CallEmbedding.call_id == Call.id)
                    .join(ModelVersion, ModelVersion.id == Call.model_version_id)
                    .where(Call.id.in_(chunk)).order_by(Call.id)):
                ids.append(call_id)
                inputs.append(in_vec)
                outputs.append(out_vec)
                texts.append(output or "")
                versions.append(version)
    if not ids:
        return [], np.zeros((0, 0), dtype=np.float32), [], []
    # the output says how a call failed; the input what it was about: both count
    vectors = combine(from_blobs(inputs), 2 * from_blobs(outputs))
    return ids, vectors, texts, versions


def squared_distances(a: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float64]:
    """Squared Euclidean distance of every row of a to every row of b (through dot products)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    d = (a64 ** 2).sum(axis=1)[:, None] + (b64 ** 2).sum(axis=1)[None, :] - 2 * a64 @ b64.T
    return np.maximum(d, 0.0)


def kmeans(x: NDArray[np.float32], k: int, seed: int = 0, restarts: int = RESTARTS
           ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """(cluster of each row, centroids): the best (least inertia) of `restarts` runs of
    Lloyd's k-means from k-means++ seeds; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    best: tuple[float, NDArray[np.int64], NDArray[np.float32]] | None = None
    for _ in range(restarts):
        assignment, centroids = _lloyd(x, k, rng)
        inertia = float(squared_distances(x, centroids)[np.arange(len(x)), assignment].sum())
        if best is None or inertia < best[0] - 1e-9:
            best = (inertia, assignment, centroids)
    assert best is not None
    return best[1], best[2]


def _lloyd(x: NDArray[np.float32], k: int, rng: np.random.Generator, iterations: int = 100
           ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    n = len(x)
    centres = [x[int(rng.integers(n))]]
    for _ in range(1, k):
        distance = squared_distances(x, np.array(centres)).min(axis=1)
        total = float(distance.sum())
        pick = int(rng.choice(n, p=distance / total)) if total > 0 else int(rng.integers(n))
        centres.append(x[pick])
    centroids = np.array(centres, dtype=np.float32)
    assignment = np.zeros(n, dtype=np.int64)
    for step in range(iterations):
        new = squared_distances(x, centroids).argmin(axis=1)
        if step and np.array_equal(new, assignment):
            break
        assignment = new
        for j in range(k):
            members = x[assignment == j]
            if len(members):
                centroids[j] = members.mean(axis=0)
    return assignment, centroids


def silhouette(x: NDArray[np.float32], assignment: NDArray[np.int64]) -> float:
    """Mean silhouette of a clustering (Euclidean); 0 with a single cluster."""
    labels = np.unique(assignment)
    if len(labels) < 2:
        return 0.0
    distances = np.sqrt(squared_distances(x, x))
    scores = np.zeros(len(x))
    for i in range(len(x)):
        own = assignment == assignment[i]
        if own.sum() <= 1:
            continue
        a = distances[i, own].sum() / (own.sum() - 1)
        b = min(distances[i, assignment == other].mean() for other in labels
                if other != assignment[i])
        scores[i] = (b - a) / max(a, b) if max(a, b) > 0 else 0.0
    return float(scores.mean())


def _distinct(centroids: NDArray[np.float32]) -> bool:
    """Whether no two centroids point the same way (cosine below SAME_PATTERN)."""
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    unit = np.divide(centroids, norms, out=np.zeros_like(centroids), where=norms > 0)
    cosines = unit @ unit.T
    np.fill_diagonal(cosines, -1.0)
    return bool(cosines.max() < SAME_PATTERN)


def choose_k(x: NDArray[np.float32], seed: int = 0, most: int = MAX_CLUSTERS) -> int:
    """The k (2 to `most`) with the best silhouette among those whose centroids are distinct
    patterns, or 1 when none reaches MIN_SILHOUETTE. Measured on at most 400 rows (a fixed
    sample)."""
    n = len(x)
    if n < 4:
        return 1
    sample = x if n <= 400 else x[np.random.default_rng(seed).choice(n, 400, replace=False)]
    best_k, best = 1, MIN_SILHOUETTE
    for k in range(2, min(most, len(sample) // 2) + 1):
        assignment, centroids = kmeans(sample, k, seed)
        if not _distinct(centroids):
            continue
        score = silhouette(sample, assignment)
        if score > best + 1e-9:
            best_k, best = k, score
    return best_k


def tokens(text: str) -> list[str]:
    """Lowercased words of three letters or more, without stop words."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]


def distinctive_words(documents: Sequence[Sequence[str]], top: int = WORDS
                      ) -> list[tuple[str, ...]]:
    """For each cluster (its texts), the words with the highest TF-IDF, a cluster's texts
    being one document and idf = ln((1 + clusters) / (1 + clusters using the word)) + 1."""
    counts = [Counter(word for text in texts for word in tokens(text)) for texts in documents]
    used_in = Counter(word for count in counts for word in count)
    n = len(counts)
    words = []
    for count in counts:
        total = sum(count.values()) or 1
        scored = sorted(((c / total) * (math.log((1 + n) / (1 + used_in[w])) + 1), w)
                        for w, c in count.items())
        ranked = sorted(scored, key=lambda pair: (-pair[0], pair[1]))
        words.append(tuple(w for _score, w in ranked[:top]))
    return words


def _version_axis(engine: Engine) -> tuple[str, ...]:
    with engine.connect() as conn:
        return tuple(conn.scalars(select(ModelVersion.name).order_by(
            ModelVersion.created_at, ModelVersion.id)))


def cluster_failures(engine: Engine, group: FailureGroup, *, k: int | None = None,
                     seed: int = 0, limit: int = MAX_CALLS,
                     embedder: Embedder | None = None) -> ClusterReport:
    """Cluster a group's newest `limit` calls; clusters largest first."""
    call_ids = group_call_ids(engine, group, limit)
    axis = _version_axis(engine)
    ids, x, texts, versions = _vectors(engine, call_ids, embedder) if call_ids else (
        [], np.zeros((0, 0), dtype=np.float32), [], [])
    if not ids:
        return ClusterReport(group, axis, ())
    count = k if k is not None else choose_k(x, seed)
    count = max(1, min(count, len(ids)))
    assignment, centroids = kmeans(x, count, seed)
    members = [np.flatnonzero(assignment == j) for j in range(count)]
    members = [m for m in members if len(m)]
    words = distinctive_words([[texts[i] for i in m] for m in members])
    clusters = []
    for rows, cluster_words in zip(members, words, strict=True):
        centre = x[rows].mean(axis=0)
        closest = rows[np.argsort(((x[rows] - centre) ** 2).sum(axis=1), kind="stable")]
        sizes = dict.fromkeys(axis, 0) | Counter(versions[i] for i in rows)
        clusters.append((tuple(ids[i] for i in rows), sizes,
                         tuple(ids[i] for i in closest[:REPRESENTATIVES]), cluster_words))
    clusters.sort(key=lambda c: (-len(c[0]), c[0][0]))
    return ClusterReport(group, axis, tuple(
        FailureCluster(n, *fields) for n, fields in enumerate(clusters, start=1)))
