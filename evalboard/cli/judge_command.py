"""`evalboard judge`: list, create, run and align judges (model-graded checks)."""

from __future__ import annotations

from typing import Annotated

import typer
from tqdm import tqdm

from evalboard.cli.common import DbOption, fail, store
from evalboard.judges.align import align
from evalboard.judges.alignment import Alignment, alignment
from evalboard.judges.backends import BackendSpec
from evalboard.judges.repository import JudgeDefinition, create_judge, list_judges
from evalboard.judges.running import DEFAULT_BATCH, run_on_labelled
from evalboard.judges.suggested import suggested_judges

app = typer.Typer(help="Judges: model-graded checks measured against people.",
                  no_args_is_help=True)

JudgeArgument = Annotated[str, typer.Argument(
    metavar="JUDGE", help="A judge: its name (newest version), NAME@3, or #<version id>.")]


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _alignment_line(measured: Alignment) -> str:
    m = measured.confusion
    return (f"{measured.version.ref}: {measured.calls} calls judged by both, "
            f"κ {_number(measured.kappa)}, precision {_number(m.precision)}, recall "
            f"{_number(m.recall)}, F1 {_number(m.f1)} (tp {m.tp} fp {m.fp} fn {m.fn} "
            f"tn {m.tn}); {measured.trust_text}")


@app.command("list")
def list_command(db: DbOption = None) -> None:
    """Every judge: newest version, label, backend, and its agreement with people."""
    engine = store(db)
    judges = list_judges(engine)
    if not judges:
        typer.echo("no judges yet; suggested ones: "
                   + ", ".join(s.name for s in suggested_judges(engine))
                   + " (evalboard judge create NAME --base-url URL --model MODEL)")
        return
    for summary in judges:
        version = summary.newest
        typer.echo(f"{version.ref}  label {version.label or '(verdict)'}  "
                   f"{version.definition.output_mode}  {version.definition.backend.describe()}")
        typer.echo(f"  {_alignment_line(alignment(engine, version))}")


@app.command("create")
def create_command(
    name: Annotated[str, typer.Argument(help="A suggested judge's name (see evalboard judge "
                                             "list), e.g. hallucination.")],
    base_url: Annotated[str | None, typer.Option(
        help="An OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1.")] = None,
    model: Annotated[str | None, typer.Option(help="The model name the server serves.")] = None,
    model_dir: Annotated[str | None, typer.Option(
        help="Instead of a server: a local transformers checkpoint directory.")] = None,
    api_key_env: Annotated[str, typer.Option(
        help="The environment variable holding the server's key (the key is never "
             "stored).")] = "",
    db: DbOption = None,
) -> None:
    """Create a suggested judge (one per label) on a local server or checkpoint."""
    if (model_dir is None) == (base_url is None):
        fail("give --base-url and --model (a server) or --model-dir (a local checkpoint)")
    backend = BackendSpec(kind="transformers", model_dir=model_dir) if model_dir else \
        BackendSpec(kind="openai", base_url=base_url or "", model=model or "",
                    api_key_env=api_key_env)
    engine = store(db)
    suggestion = next((s for s in suggested_judges(engine) if s.name == name), None)
    if suggestion is None:
        fail(f"no suggested judge {name!r}; suggested: "
             + ", ".join(s.name for s in suggested_judges(engine)))
    version = create_judge(engine, name, JudgeDefinition(suggestion.definition.template,
                                                         backend), label=suggestion.label)
    typer.echo(f"created {version.ref} ({backend.describe()})")


@app.command("run")
def run_command(
    judge: JudgeArgument,
    limit: Annotated[int, typer.Option(min=1, help="Judge at most this many calls, then "
                                                    "stop (run again to go on).")
                     ] = DEFAULT_BATCH,
    db: DbOption = None,
) -> None:
    """Judge the human-labelled calls this judge version has not answered yet, then show its
    agreement with people."""
    engine = store(db)
    with tqdm(total=0, unit=" calls", desc="judging", disable=None) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        report = run_on_labelled(engine, judge, limit=limit, progress=progress)
    typer.echo(f"{report.version.ref}: judged {report.judged} calls ({report.cached} from the "
               f"cache, {report.backend_calls} backend calls, {report.errors} errors); "
               f"{report.remaining} left")
    if report.first_error:
        typer.echo(f"first error: {report.first_error}", err=True)
    typer.echo(_alignment_line(alignment(engine, report.version)))


@app.command("align")
def align_command(
    judge: JudgeArgument,
    examples: Annotated[int, typer.Option(min=1, max=50, help="Few-shot examples.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the held-out split.")] = 0,
    held_out: Annotated[float, typer.Option(min=0.1, max=0.9, help="Share of the "
                                                                   "labelled calls held out "
                                                                   "to evaluate.")] = 0.5,
    db: DbOption = None,
) -> None:
    """Build a judge version with few-shot examples from human-labelled calls and compare κ
    before and after on held-out calls."""
    engine = store(db)
    report = align(engine, judge, seed=seed, examples=examples, held_out_share=held_out)
    typer.echo(f"{report.after.version.ref}: {len(report.example_call_ids)} examples, "
               f"evaluated on {len(report.held_out_call_ids)} held-out calls "
               f"({report.backend_calls} backend calls)")
    typer.echo(f"before  {_alignment_line(report.before)}")
    typer.echo(f"after   {_alignment_line(report.after)}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="judge")
