"""What to do with failures: review a monitor's failing calls or a failure cluster's calls, or
promote a cluster's representatives to test cases (a monitor's cluster gets the monitor's
checks; a label's the checks its labels suggest)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import Engine

from evalboard.cases.draft import CaseError
from evalboard.cases.promote import promote_call
from evalboard.cases.repository import create_case
from evalboard.checks.base import CheckError, CheckSpec, validate_spec
from evalboard.monitors.definitions import MonitorView, get_monitor
from evalboard.monitors.results import failing_calls
from evalboard.review.sampling import ReviewSessionError, SessionSpec
from evalboard.review.sessions import start_session
from evalboard.similarity.clusters import ClusterReport, FailureCluster


def cluster_title(report: ClusterReport, cluster: FailureCluster) -> str:
    """'Monitor: format · cluster 2 (arr, treasure, ...)'."""
    words = ", ".join(cluster.words[:4])
    return f"{report.group.title} · cluster {cluster.number}" + (f" ({words})" if words else "")


def review_cluster(engine: Engine, reviewer: str, report: ClusterReport,
                   cluster: FailureCluster) -> int:
    """A review session of the cluster's calls (reviewed or not), representatives first."""
    order = list(dict.fromkeys([*cluster.representatives, *cluster.call_ids]))
    spec = SessionSpec(size=len(order), strategy="listed", call_ids=tuple(order))
    return start_session(engine, reviewer, spec, name=cluster_title(report, cluster)[:200])


@dataclass(frozen=True)
class Promoted:
    """The cases created, and the calls left out with the reason."""

    case_ids: tuple[int, ...]
    skipped: tuple[tuple[int, str], ...]


def _valid(checks: tuple[CheckSpec, ...]) -> tuple[CheckSpec, ...]:
    """The checks that can run as they are (a suggested check waiting for values cannot)."""
    kept = []
    for spec in checks:
        try:
            validate_spec(spec)
        except CheckError:
            continue
        kept.append(spec)
    return tuple(kept)


def promote_representatives(engine: Engine, report: ClusterReport, cluster: FailureCluster, *,
                            suite: str, author: str | None = None,
                            count: int = 3) -> Promoted:
    """A test case in `suite` from each of the cluster's first `count` representatives."""
    monitor_checks = (get_monitor(engine, report.group.name).spec.checks
                      if report.group.kind == "monitor" else None)
    created: list[int] = []
    skipped: list[tuple[int, str]] = []
    for call_id in cluster.representatives[:count]:
        promotion = promote_call(engine, call_id, reviewer=author)
        checks = monitor_checks or _valid(promotion.draft.checks)
        if not checks:
            skipped.append((call_id, "no check runs as suggested: promote it from the call, "
                                     "and write its checks"))
            continue
        draft = replace(promotion.draft, checks=checks,
                        name=f"{promotion.draft.name}-{call_id}"[:200],
                        tags=(*promotion.draft.tags, "failure-cluster"))
        try:
            created.append(create_case(engine, suite, draft, provenance=promotion.provenance,
                                       author=author))
        except CaseError as exc:
            skipped.append((call_id, str(exc)))
    return Promoted(tuple(created), tuple(skipped))


def review_failing(engine: Engine, reviewer: str, monitor: MonitorView, size: int = 50) -> int:
    """A review session of the newest calls that failed the monitor and nobody has judged."""
    call_ids = [c.call_id for c in failing_calls(engine, monitor.id, limit=size,
                                                  unreviewed_only=True)]
    if not call_ids:
        raise ReviewSessionError(f"every call that failed monitor “{monitor.name}” is reviewed")
    spec = SessionSpec(size=len(call_ids), strategy="listed", call_ids=tuple(call_ids))
    return start_session(engine, reviewer, spec, name=f"Failing monitor {monitor.name}"[:200])
