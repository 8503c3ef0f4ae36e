"""Recurring failures on planted groups: three clearly separated kinds of failing output, found
as three clusters with the right members, representatives and words; which a new version fixed
and which it introduced; review a cluster, promote its representatives."""

from __future__ import annotations

import numpy as np
import pytest

from evalboard.cases.repository import get_case
from evalboard.checks.base import CheckSpec
from evalboard.monitors.definitions import MonitorSpec, create_monitor
from evalboard.monitors.failure_actions import promote_representatives, review_cluster
from evalboard.monitors.worker import run_pass
from evalboard.review.annotations import Judgement, annotate
from evalboard.review.sessions import get_session, items
from evalboard.similarity.clusters import (
    ClusterError,
    FailureGroup,
    choose_k,
    cluster_failures,
    distinctive_words,
    failure_groups,
    kmeans,
)
from evalboard.similarity.embeddings import get_embedder
from tests.support.calls import add_calls

TOPICS = ["refunds", "your invoice", "shipping", "your order", "returns", "a password reset"]
REFUSALS = [f"I'm sorry, but as an AI language model I cannot help with {t}." for t in TOPICS]
BROKEN_JSON = [f'{{"order_id": {n}, "status": "shipped", "items": [{{"sku": "A{n}", '
               for n in (17, 230, 4, 981, 56, 3)]
PIRATE = [f"Arr matey, yer {t} be lost at sea, yo ho ho and a bottle of rum!"
          for t in ("parcel", "refund", "invoice", "package", "order", "money")]
# A monitor that fails all three: no "as an AI", valid JSON, no pirate talk.
CHECKS = (CheckSpec("contains_any", {"values": ["as an AI", "arr", "Arr"]}, negate=True),
          CheckSpec("is_json"))


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


@pytest.fixture
def planted(engine):
    """v1 fails with refusals and broken JSON; v2 fixed the refusals and talks like a pirate."""
    rows = [*({"input": f"Where is my order {i}?", "output": text, "model_version": "v1"}
              for i, text in enumerate(REFUSALS + BROKEN_JSON)),
            *({"input": f"Where is my order {i}?", "output": text, "model_version": "v2"}
              for i, text in enumerate(BROKEN_JSON + PIRATE))]
    ids = add_calls(engine, rows).ids
    create_monitor(engine, MonitorSpec("format", CHECKS), backfill=True)
    run_pass(engine)
    return ids


def test_planted_groups_come_out_as_clusters(engine, planted, embedder):
    report = cluster_failures(engine, FailureGroup("monitor", "format"), embedder=embedder)
    assert report.versions == ("v1", "v2")
    assert [c.size for c in report.clusters] == [12, 6, 6]
    json_cluster, *others = report.clusters
    by_text = {frozenset(c.call_ids): c for c in others}
    refusal_ids = frozenset(planted[:6])
    pirate_ids = frozenset(planted[18:])
    assert set(by_text) == {refusal_ids, pirate_ids}
    assert set(json_cluster.call_ids) == set(planted[6:18])
    assert json_cluster.sizes == {"v1": 6, "v2": 6}
    refusal, pirate = by_text[refusal_ids], by_text[pirate_ids]
    assert refusal.sizes == {"v1": 6, "v2": 0} and pirate.sizes == {"v1": 0, "v2": 6}
    assert {"language", "model"} <= set(refusal.words)
    assert "arr" in pirate.words
    assert len(refusal.representatives) == 3 and set(refusal.representatives) <= refusal_ids
    assert report.fixed("v1", "v2") == [refusal]
    assert report.introduced("v1", "v2") == [pirate]


def test_the_same_seed_gives_the_same_clusters(engine, planted, embedder):
    group = FailureGroup("monitor", "format")
    first = cluster_failures(engine, group, embedder=embedder, seed=3)
    assert cluster_failures(engine, group, embedder=embedder, seed=3) == first
    halves = cluster_failures(engine, group, k=2, embedder=embedder).clusters
    assert sorted(c.size for c in halves) in ([6, 18], [12, 12])  # two groups stay together


def test_labelled_failures_cluster_per_label(engine, planted, embedder):
    for call_id in planted[:6]:
        annotate(engine, call_id, "ann", Judgement("fail", ("hallucination",)))
    groups = failure_groups(engine)
    assert FailureGroup("label", "hallucination") in groups
    assert FailureGroup("monitor", "format") in groups
    report = cluster_failures(engine, FailureGroup("label", "hallucination"), embedder=embedder)
    assert [set(c.call_ids) for c in report.clusters] == [set(planted[:6])]
    with pytest.raises(ClusterError, match="no monitor 'nope'"):
        cluster_failures(engine, FailureGroup("monitor", "nope"), embedder=embedder)


def test_review_a_cluster_and_promote_its_representatives(engine, planted, embedder):
    report = cluster_failures(engine, FailureGroup("monitor", "format"), embedder=embedder)
    pirate = next(c for c in report.clusters if c.sizes["v1"] == 0)
    session_id = review_cluster(engine, "ann", report, pirate)
    view = get_session(engine, session_id)
    assert view is not None and view.size == 6 and "format" in view.name
    assert [item.call_id for item in items(engine, session_id)] == list(dict.fromkeys(
        [*pirate.representatives, *pirate.call_ids]))
    promoted = promote_representatives(engine, report, pirate, suite="regressions",
                                       author="ann")
    assert len(promoted.case_ids) == 3 and promoted.skipped == ()
    case = get_case(engine, promoted.case_ids[0])
    assert case is not None and [c.type for c in case.draft.checks] == ["contains_any", "is_json"]
    assert case.provenance.call_id in pirate.representatives


def test_kmeans_and_choose_k_on_separated_points():
    rng = np.random.default_rng(0)
    centres = np.eye(3, 8, dtype=np.float32) * 5
    x = np.concatenate([c + rng.normal(0, 0.1, (20, 8)).astype(np.float32) for c in centres])
    assert choose_k(x) == 3
    assignment, _ = kmeans(x, 3, seed=1)
    assert [len(set(assignment[i:i + 20])) for i in (0, 20, 40)] == [1, 1, 1]
    assert len(set(assignment)) == 3
    same = np.ones((10, 8), dtype=np.float32) + rng.normal(0, 0.01, (10, 8)).astype(np.float32)
    assert choose_k(same) == 1


def test_distinctive_words_are_what_sets_a_cluster_apart():
    words = distinctive_words([["refund the refund now", "refund please"],
                               ["shipping now please", "shipping late"]], top=2)
    # "now" and "please" are in both clusters: the words only one cluster has rank first
    assert words == [("refund", "now"), ("shipping", "late")]
