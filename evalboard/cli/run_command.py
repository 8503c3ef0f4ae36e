"""`evalboard run SUITE --model-version V (--model DIR | --callable mod:fn | --replay)`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from evalboard.cli.common import DbOption, fail, store
from evalboard.runs.generators import CallableGenerator, Generator, TransformersGenerator
from evalboard.runs.results import RunSummary
from evalboard.runs.runner import RunError, Selection, run_suite


def _generator(model: Path | None, callable_: str | None, replay: bool, batch_size: int,
               max_new_tokens: int) -> Generator | None:
    chosen = [name for name, given in (("--model", model), ("--callable", callable_),
                                       ("--replay", replay)) if given]
    if len(chosen) != 1:
        fail("choose exactly one of --model DIR, --callable module:function, --replay", 2)
    if model is not None:
        return TransformersGenerator(str(model), batch_size=batch_size,
                                     generation={"max_new_tokens": max_new_tokens})
    if callable_ is not None:
        return CallableGenerator(callable_)
    return None


def print_summary(summary: RunSummary) -> None:
    typer.echo(f"run {summary.run_id}{' (resumed)' if summary.resumed else ''}: "
               f"{summary.suite} on {summary.model_version}: {summary.passed} passed, "
               f"{summary.failed} failed, {summary.errors} errors"
               + (f", {len(summary.missing)} without a logged call" if summary.missing else "")
               + f" — pass rate {summary.pass_rate:.1%}")
    for title, rates in (("per label", summary.label_rates()),
                         ("per check", summary.check_rates())):
        if rates:
            typer.echo(f"  {title}: " + ", ".join(f"{k} {v:.0%}" for k, v in rates.items()))
    if summary.missing:
        typer.echo("  no logged call matches: " + ", ".join(summary.missing[:20])
                   + (" …" if len(summary.missing) > 20 else ""))


def run_command(
    suite: Annotated[str, typer.Argument(metavar="SUITE")],
    model_version: Annotated[str, typer.Option(help="The model version the outputs belong to.")],
    model: Annotated[Path | None, typer.Option(help="A local transformers model directory.")
                     ] = None,
    callable_: Annotated[str | None, typer.Option(
        "--callable", metavar="MODULE:FUNCTION",
        help="A Python function (prompt or messages) -> text, e.g. for an API-hosted model.")
    ] = None,
    replay: Annotated[bool, typer.Option(help="Score the calls already logged for the version "
                                         "whose input matches each case.")] = False,
    tag: Annotated[list[str] | None, typer.Option(metavar="TAG", help="Only cases with a tag.")
                   ] = None,
    label: Annotated[list[str] | None, typer.Option(metavar="LABEL",
                                                    help="Only cases guarding a label.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Batch size for --model.")] = 4,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Generation length for --model.")
                              ] = 128,
    db: DbOption = None,
) -> None:
    """Run a suite against a model version; an interrupted run resumes where it stopped."""
    engine = store(db)
    generator = _generator(model, callable_, replay, batch_size, max_new_tokens)
    with tqdm(unit=" cases", desc=f"{suite} on {model_version}", disable=None) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            summary = run_suite(engine, suite, model_version, generator,
                                selection=Selection(tuple(tag or ()), tuple(label or ())),
                                progress=progress)
        except RunError as exc:
            fail(str(exc), 2)
    print_summary(summary)


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
