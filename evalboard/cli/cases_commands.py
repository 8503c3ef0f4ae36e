"""`evalboard cases import|export|list`: suites as YAML/JSONL files kept in git."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalboard.cases.files import CaseFileError, export_suite, import_case_file
from evalboard.cases.repository import CaseQuery, checks_summary, list_cases, list_suites
from evalboard.cli.common import DbOption, fail, store

app = typer.Typer(help="Test cases: import, export and list suites.", no_args_is_help=True)


@app.command("import")
def import_cases(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A .yaml or .jsonl suite file.")],
    suite: Annotated[
        str | None, typer.Option(help="Suite for cases whose file names none.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Create or update cases from a file (by suite and case name); an edit is a new version."""
    try:
        summary = import_case_file(store(db), file, default_suite=suite)
    except CaseFileError as exc:
        fail(str(exc))
    typer.echo(
        f"{', '.join(sorted(summary.suites)) or 'no suite'}: created {summary.created}, "
        f"updated {summary.updated}, unchanged {summary.unchanged}"
    )


@app.command("export")
def export_cases(
    suite: Annotated[str, typer.Argument(metavar="SUITE")],
    out: Annotated[Path, typer.Argument(metavar="OUT", help="Where to write: .yaml or .jsonl.")],
    active_only: Annotated[bool, typer.Option(help="Leave out deactivated cases.")] = False,
    db: DbOption = None,
) -> None:
    """Write a suite to a YAML or JSONL file."""
    engine = store(db)
    if suite not in dict(list_suites(engine)):
        fail(
            f"no suite named {suite!r}; suites: {', '.join(dict(list_suites(engine))) or 'none'}", 2
        )
    if not out.parent.is_dir():
        fail(f"the folder {out.parent} does not exist")
    count = export_suite(engine, suite, out, include_inactive=not active_only)
    typer.echo(f"wrote {count} cases of {suite} to {out}")


@app.command("list")
def list_command(
    suite: Annotated[str | None, typer.Option(help="Only this suite.")] = None,
    label: Annotated[str | None, typer.Option(help="Only cases guarding this label.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only cases with this tag.")] = None,
    mode: Annotated[str | None, typer.Option(help="success or failure.")] = None,
    inactive: Annotated[bool, typer.Option(help="Include deactivated cases.")] = False,
    db: DbOption = None,
) -> None:
    """List cases: suite, name, mode, label, version and checks."""
    cases = list_cases(
        store(db),
        CaseQuery(suite=suite, label=label, mode=mode, tag=tag, active=None if inactive else True),
    )
    for view in cases:
        state = "" if view.active else " (inactive)"
        typer.echo(
            f"{view.suite}/{view.draft.name} v{view.version} [{view.draft.mode}"
            f"{': ' + view.draft.label if view.draft.label else ''}]{state}  "
            f"{checks_summary(view.draft.checks)}"
        )
    typer.echo(f"{len(cases)} case(s)")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="cases")
