"""The errors of judges: each one line a person can act on."""

from __future__ import annotations

from evalboard.errors import EvalboardError


class JudgeError(EvalboardError, ValueError):
    """A judge that cannot be saved or found: bad template, backend or name."""


class JudgeBackendError(EvalboardError, RuntimeError):
    """A backend that did not answer (after its retries): unreachable, timed out, refused."""


class JudgeParseError(EvalboardError, ValueError):
    """The judge's answer holds no verdict; `raw` is the answer as it came."""

    def __init__(self, message: str, raw: str) -> None:
        super().__init__(message)
        self.raw = raw
