"""Are the latest runs charted side by side comparable? Runs of one suite are, when they ran
the same version of every case; a case edited between two runs makes their pass rates and
scores measure different things.

Only the cases whose version differs among the latest finished runs of a suite are read (one
aggregate finds them), so a store where nothing changed costs one small query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, func, or_, select, tuple_

from evalboard.metrics.axis import version_axis
from evalboard.metrics.runs import latest_runs
from evalboard.store.case_models import CaseVersion, EvalCase, Suite
from evalboard.store.run_models import CaseResult

NAMED_CASES = 3  # up to this many differing cases are named one by one


CaseVersions = tuple[tuple[str, int | None], ...]  # (case name, version or None: not run)


@dataclass(frozen=True)
class RunCases:
    """A latest run and the versions it ran of the cases that differ in its suite."""

    model_version: str
    run_id: int
    versions: CaseVersions  # by case name


@dataclass(frozen=True)
class CaseVersionMix:
    """A suite whose latest runs did not all run the same version of `cases` cases."""

    suite: str
    cases: int
    runs: tuple[RunCases, ...]  # in version axis order

    def groups(self) -> list[tuple[tuple[RunCases, ...], CaseVersions]]:
        """Runs that ran the same case versions, together, in order of their first run."""
        grouped: dict[CaseVersions, list[RunCases]] = {}
        for run in self.runs:
            grouped.setdefault(run.versions, []).append(run)
        return [(tuple(runs), versions) for versions, runs in grouped.items()]

    def _describe(self, versions: CaseVersions) -> str:
        if self.cases <= NAMED_CASES:
            return ", ".join(f"“{name}” " + ("not run" if version is None else f"v{version}")
                             for name, version in versions)
        newest = {name: max((v or 0) for r in self.runs for n, v in r.versions if n == name)
                  for name, _ in versions}
        older = sum(v is not None and v < newest[name] for name, v in versions)
        skipped = sum(v is None for _, v in versions)
        counts = [f"{older} at an older version" if older else "",
                  f"{skipped} not run" if skipped else ""]
        return ", ".join(c for c in counts if c) or "the newest version of each"

    def message(self) -> str:
        """One paragraph naming which runs ran which case versions."""
        parts = [", ".join(f"{r.model_version} (run {r.run_id})" for r in runs) + ": "
                 + self._describe(versions) for runs, versions in self.groups()]
        plural = "case differs" if self.cases == 1 else "cases differ"
        return (f"Suite “{self.suite}”: the runs charted here did not run the same cases at the "
                f"same versions ({self.cases} {plural}), so they are not measured on the same "
                "test. " + "; ".join(parts) + ".")


def case_version_mixes(engine: Engine, *, suite: str | None = None,
                       versions: Sequence[str] | None = None) -> list[CaseVersionMix]:
    """Per suite whose latest finished runs (of the charted versions) did not all run the same
    version of some case: those cases and the version each run ran (None: the run did not run
    it, or skipped it as missing)."""
    with engine.connect() as conn:
        axis = version_axis(conn, versions)
        order = {v.id: v.order for v in axis}
        names = {v.id: v.name for v in axis}
        latest = latest_runs(suite)
        charted = (select(Suite.name, latest.c.suite_id, latest.c.run_id,
                          latest.c.model_version_id)
                   .join(Suite, Suite.id == latest.c.suite_id)
                   .where(latest.c.model_version_id.in_(list(order))).cte("charted"))
        runs = conn.execute(select(charted.c.name, charted.c.run_id,
                                   charted.c.model_version_id)).all()
        ran = (select(charted.c.suite_id, charted.c.run_id, CaseResult.case_id,
                      CaseResult.case_version_id)
               .join(CaseResult, CaseResult.run_id == charted.c.run_id)
               .where(CaseResult.status != "missing").cte("ran"))
        per_suite = (select(charted.c.suite_id, func.count().label("runs"))
                     .group_by(charted.c.suite_id).cte("per_suite"))
        differing = (select(ran.c.suite_id, ran.c.case_id)
                     .join(per_suite, per_suite.c.suite_id == ran.c.suite_id)
                     .group_by(ran.c.suite_id, ran.c.case_id, per_suite.c.runs)
                     .having(or_(func.count(ran.c.case_version_id.distinct()) > 1,
                                 func.count() < per_suite.c.runs)))
        rows = conn.execute(
            select(ran.c.run_id, EvalCase.name, CaseVersion.version)
            .join(CaseVersion, CaseVersion.id == ran.c.case_version_id)
            .join(EvalCase, EvalCase.id == ran.c.case_id)
            .where(tuple_(ran.c.suite_id, ran.c.case_id).in_(differing))).all()
    ran_versions: dict[int, dict[str, int]] = {}
    for run_id, case_name, case_version in rows:
        ran_versions.setdefault(run_id, {})[case_name] = case_version
    by_suite: dict[str, list[tuple[int, int]]] = {}
    for suite_name, run_id, version_id in runs:
        by_suite.setdefault(suite_name, []).append((version_id, run_id))
    mixes = []
    for suite_name, suite_runs in sorted(by_suite.items()):
        cases = sorted({name for _, run_id in suite_runs for name in ran_versions.get(run_id, {})})
        if not cases:
            continue
        suite_runs.sort(key=lambda run: order[run[0]])
        mixes.append(CaseVersionMix(suite_name, len(cases), tuple(
            RunCases(names[version_id], run_id,
                     tuple((name, ran_versions.get(run_id, {}).get(name)) for name in cases))
            for version_id, run_id in suite_runs)))
    return mixes
