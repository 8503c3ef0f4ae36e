"""Judge one output: render the prompt, answer from the cache or ask the backend (retrying
transient failures and answers without a verdict, with backoff), parse, store the result."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from evalboard.judges import cache
from evalboard.judges.backends import Backend, TransientBackendError, backend_for
from evalboard.judges.errors import JudgeBackendError, JudgeParseError
from evalboard.judges.parsing import parse_verdict
from evalboard.judges.repository import JudgeVersionView
from evalboard.judges.templates import PromptFields, input_text, render, render_examples
from evalboard.review.guidelines import get_guidelines


@dataclass(frozen=True)
class JudgeItem:
    """What a judge sees of one call or case."""

    input: str | Sequence[Mapping[str, Any]] | None
    output: str
    reference: str = ""
    call_id: int | None = None


@dataclass(frozen=True)
class JudgeOutcome:
    """A judge version's result on one output; `verdict` is None when it errored."""

    version_id: int
    verdict: str | None
    score: float | None
    reason: str
    raw_answer: str | None
    error: str | None
    attempts: int
    cached: bool
    result_id: int

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"


class JudgeRunner:
    """One judge version ready to judge: its backend and the guidelines, read once."""

    def __init__(self, engine: Engine, version: JudgeVersionView, *,
                 backend: Backend | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.engine = engine
        self.version = version
        self.backend = backend or backend_for(version.definition.backend)
        self.guidelines = get_guidelines(engine)
        self.examples = render_examples(version.definition.examples)
        self.sleep = sleep
        self.backend_calls = 0

    def prompt(self, item: JudgeItem) -> str:
        version = self.version
        return render(version.definition.template, PromptFields(
            input=input_text(item.input), output=item.output, reference=item.reference,
            label=version.label or "", label_description=version.label_description,
            guidelines=self.guidelines, examples=self.examples))

    def judge(self, item: JudgeItem) -> JudgeOutcome:
        """The result for `item`: cached when this version has seen the same prompt and
        output, else asked (and stored); linked to the call when there is one."""
        prompt = self.prompt(item)
        key = (self.version.id, cache.digest(prompt), cache.digest(item.output))
        hit = cache.lookup(self.engine, *key, call_id=item.call_id)
        if hit is not None:
            return JudgeOutcome(self.version.id, hit.verdict, hit.score, hit.reason,
                                hit.raw_answer, None, hit.attempts, True, hit.result_id)
        return self._ask(prompt, key, item.call_id)

    def _ask(self, prompt: str, key: tuple[int, str, str], call_id: int | None
             ) -> JudgeOutcome:
        definition = self.version.definition
        spec = definition.backend
        raw: str | None = None
        error = ""
        attempts = 0
        for attempt in range(spec.max_retries + 1):
            if attempt:
                self.sleep(spec.backoff_s * 2 ** (attempt - 1))
            attempts += 1
            try:
                self.backend_calls += 1
                raw = self.backend.complete(prompt)
                parsed = parse_verdict(raw, definition.output_mode, definition.threshold)
            except (TransientBackendError, JudgeParseError) as exc:
                error = str(exc)
                continue
            except JudgeBackendError as exc:
                error = str(exc)
                break
            verdict = "pass" if parsed.passed else "fail"
            result_id = cache.save(self.engine, *key, verdict=verdict, score=parsed.score,
                                   reason=parsed.reason, raw_answer=raw, error=None,
                                   attempts=attempts, call_id=call_id)
            return JudgeOutcome(self.version.id, verdict, parsed.score, parsed.reason, raw,
                                None, attempts, False, result_id)
        message = f"{error} (after {attempts} attempt{'s' if attempts != 1 else ''})"
        result_id = cache.save(self.engine, *key, verdict=None, score=None, reason="",
                               raw_answer=raw, error=message, attempts=attempts,
                               call_id=call_id)
        return JudgeOutcome(self.version.id, None, None, "", raw, message, attempts, False,
                            result_id)
