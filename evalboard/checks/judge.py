"""The `judge` check: a judge stored in evalboard (a model-graded check) grades the output.

Its one parameter names the judge: by name (its newest version), 'name@3' (version 3) or
'#17' (a version id). The judge's answer is cached by (version, prompt, output), so a rerun
costs no backend call; an answer that holds no verdict after its retries is an error result.
The category "judge" marks it as calling a model: monitors run it with bounded concurrency.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evalboard.checks.base import CheckContext, CheckOutcome, Param, register
from evalboard.judges.binding import judge_store
from evalboard.judges.errors import JudgeBackendError
from evalboard.judges.judging import JudgeItem, JudgeRunner
from evalboard.judges.repository import resolve

JUDGE_PARAM = Param("str", required=True,
                    doc="a judge: its name (newest version), 'name@3' or '#<version id>'")


def run_judge(ref: str, output: str, context: CheckContext) -> CheckOutcome:
    """Judge `output` with the judge `ref` from the judge store."""
    engine = judge_store()
    version = resolve(engine, ref)
    reference = context.references[0] if context.references else ""
    outcome = JudgeRunner(engine, version).judge(
        JudgeItem(input=context.input, output=output, reference=reference))
    if outcome.error is not None:
        raise JudgeBackendError(f"judge {version.ref}: {outcome.error}")
    score = outcome.score if outcome.score is not None else float(outcome.passed)
    cached = " (cached)" if outcome.cached else ""
    return CheckOutcome(outcome.passed, score,
                        f"judge {version.ref}: {outcome.verdict}{cached}"
                        + (f": {outcome.reason}" if outcome.reason else ""),
                        judge_version_id=version.id)


@register("judge", category="judge", params={"judge": JUDGE_PARAM})
def judge(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """Asks a stored judge (a model) whether the output passes; its score and reason."""
    return run_judge(str(params["judge"]), output, context)
