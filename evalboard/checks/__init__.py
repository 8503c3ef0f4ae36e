"""The check catalogue: `run_check(CheckSpec(...), output, CheckContext(...))`."""

from evalboard.checks.base import (
    REGISTRY,
    CaseOutcome,
    CheckContext,
    CheckError,
    CheckOutcome,
    CheckResult,
    CheckSpec,
    Param,
    register,
    run_check,
    score_case,
    validate_spec,
)

__all__ = [
    "REGISTRY", "CaseOutcome", "CheckContext", "CheckError", "CheckOutcome", "CheckResult",
    "CheckSpec", "Param", "register", "run_check", "score_case", "validate_spec",
]
