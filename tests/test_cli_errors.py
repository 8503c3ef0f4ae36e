"""The CLI prints user-facing errors (evalboard.errors.EvalboardError) as one line and lets a
real bug keep its traceback: a stray ValueError is not dressed up as the user's mistake."""

from __future__ import annotations

import importlib

import pytest

from evalboard.cases.draft import CaseError
from evalboard.errors import EvalboardError
from evalboard.exchange.exporting import ExportError
from evalboard.exchange.readers import ImportFileError
from evalboard.metrics.registry import MetricError
from evalboard.review.sampling import ReviewSessionError
from evalboard.runs.compare import ComparisonError
from evalboard.runs.generators import GeneratorError
from evalboard.store.engine import StoreURLError
from evalboard.store.values import CallValidationError

cli_main = importlib.import_module("evalboard.cli.main")  # the module, not its main()


def _run(monkeypatch, raised: BaseException) -> None:
    def command(**_: object) -> None:
        raise raised

    monkeypatch.setattr(cli_main, "app", command)
    monkeypatch.setattr("sys.argv", ["evalboard", "anything"])
    cli_main.main()


@pytest.mark.parametrize("error", [
    CaseError("checks[0]", "rouge needs a reference"), ImportFileError("line 3: not JSON"),
    StoreURLError("not a store URL"), ComparisonError("there is no suite 'x'"),
    GeneratorError("cannot import 'nope'"), ExportError("unknown export format 'xls'"),
    ReviewSessionError("a session needs at least one call"), MetricError("unknown metric"),
    CallValidationError("input", "is required"), FileNotFoundError(2, "No such file", "x.yaml"),
])
def test_user_errors_print_one_line(monkeypatch, capsys, error) -> None:
    with pytest.raises(SystemExit) as exit_:
        _run(monkeypatch, error)
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err


@pytest.mark.parametrize("bug", [ValueError("invalid literal for int()"), KeyError("id"),
                                 TypeError("unsupported operand"), OSError(28, "No space")])
def test_a_bug_keeps_its_traceback(monkeypatch, capsys, bug) -> None:
    with pytest.raises(type(bug)):
        _run(monkeypatch, bug)
    assert "error: " not in capsys.readouterr().err


def test_every_user_facing_error_class_derives_from_the_root() -> None:
    for cls in (CaseError, ImportFileError, StoreURLError, ComparisonError, GeneratorError,
                ExportError, ReviewSessionError, MetricError, CallValidationError):
        assert issubclass(cls, EvalboardError), cls
