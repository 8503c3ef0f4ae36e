"""`evalboard monitor`: apply monitors to calls as they arrive; `evalboard monitors ...`:
define, list, pause and remove them."""

from __future__ import annotations

import json
import logging
import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from evalboard.cli.common import DbOption, fail, store
from evalboard.monitors.definitions import (
    MonitorSpec,
    create_monitor,
    delete_monitor,
    get_monitor,
    list_monitors,
    parse_checks,
    set_enabled,
)
from evalboard.monitors.worker import (
    BATCH_SIZE,
    CONCURRENCY,
    PassReport,
    WorkerSettings,
    run_forever,
    run_pass,
)

monitors_app = typer.Typer(help="Define, list, pause and remove monitors.",
                           no_args_is_help=True)


def _summary(report: PassReport) -> str:
    lines = [f"{report.monitors} monitors: {report.checked} calls checked, "
             f"{report.results} results, {report.failures} failing",
             *(f"waiting: {error}" for error in report.errors.values())]
    return "\n".join(lines)


def monitor_command(
    once: Annotated[bool, typer.Option(
        "--once", help="Bring every monitor up to date, then exit.")] = False,
    interval: Annotated[float, typer.Option(
        min=0.1, metavar="SECONDS",
        help="Seconds between passes when running continuously.")] = 5.0,
    batch_size: Annotated[int, typer.Option(
        min=1, metavar="N", help="Calls read, checked and written per transaction.")
    ] = BATCH_SIZE,
    concurrency: Annotated[int, typer.Option(
        min=1, metavar="N", help="Model-based checks (judges) running at once.")
    ] = CONCURRENCY,
    db: DbOption = None,
) -> None:
    """Apply every enabled monitor to the calls logged after its cursor. Safe to stop (even
    kill -9) and run again: it resumes, and repeats nothing."""
    engine = store(db)
    settings = WorkerSettings(batch_size=batch_size, concurrency=concurrency)
    if once:
        typer.echo(_summary(run_pass(engine, settings)))
        return
    logging.getLogger("evalboard.monitors").setLevel(logging.INFO)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        typer.echo(f"monitoring every {interval:g} s (Ctrl+C stops)")
        run_forever(engine, stop, interval=interval, settings=settings,
                    on_pass=lambda r: typer.echo(_summary(r)) if r.checked or r.errors
                    else None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    typer.echo("stopped")


def _metadata(pairs: list[str]) -> dict[str, str]:
    metadata = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            fail(f"--meta takes key=value, got {pair!r}", 2)
        metadata[key.strip()] = value
    return metadata


@monitors_app.command("add")
def add_command(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The monitor's name.")],
    check: Annotated[list[str], typer.Option(
        "--check", metavar="JSON",
        help='A check as JSON, e.g. \'{"type": "is_json"}\' (repeat for more).')],
    version: Annotated[list[str] | None, typer.Option(
        "--version", metavar="VERSION",
        help="Only calls of this model version (repeat for more).")] = None,
    source: Annotated[str, typer.Option(
        metavar="SOURCE", help="Only calls of this source; 'any' for every source.")
    ] = "production",
    meta: Annotated[list[str] | None, typer.Option(
        "--meta", metavar="KEY=VALUE",
        help="Only calls whose metadata has key=value (repeat: all must hold).")] = None,
    rate: Annotated[float, typer.Option(
        metavar="SHARE", help="Share of matching calls checked, 0 to 1.")] = 1.0,
    backfill: Annotated[bool, typer.Option(
        help="Also check the calls already stored (default: calls logged from now on).")
    ] = False,
    db: DbOption = None,
) -> None:
    """Define a monitor."""
    try:
        checks = parse_checks([json.loads(text) for text in check])
    except json.JSONDecodeError as exc:
        fail(f"--check is not JSON: {exc}", 2)
    spec = MonitorSpec(name, checks, tuple(version or ()),
                       None if source == "any" else source, _metadata(meta or []), rate)
    monitor_id = create_monitor(store(db), spec, backfill=backfill)
    typer.echo(f"monitor {monitor_id} {name!r} saved")


@monitors_app.command("list")
def list_command(db: DbOption = None) -> None:
    """Every monitor with its checks, filter, rate and results."""
    for view in list_monitors(store(db)):
        spec = view.spec
        state = "on" if spec.enabled else "paused"
        where = ", ".join([*spec.model_versions, spec.source or "any source",
                           *(f"{k}={v}" for k, v in spec.metadata.items())])
        typer.echo(f"{view.id}\t{view.name}\t{state}\t{', '.join(view.check_names)}\t{where}\t"
                   f"rate {spec.sampling_rate:g}\t{view.results} results, "
                   f"{view.failures} failing\tafter call {view.last_call_id}")


def _switch(name: str, db: str | None, enabled: bool) -> None:
    engine = store(db)
    view = get_monitor(engine, int(name) if name.isdigit() else name)
    set_enabled(engine, view.id, enabled)
    typer.echo(f"monitor {view.name!r} {'resumed' if enabled else 'paused'}")


@monitors_app.command("pause")
def pause_command(name: Annotated[str, typer.Argument(metavar="MONITOR", help="Name or id.")],
                  db: DbOption = None) -> None:
    """Pause a monitor (it keeps its place and resumes after it)."""
    _switch(name, db, False)


@monitors_app.command("resume")
def resume_command(name: Annotated[str, typer.Argument(metavar="MONITOR", help="Name or id.")],
                   db: DbOption = None) -> None:
    """Resume a paused monitor."""
    _switch(name, db, True)


@monitors_app.command("remove")
def remove_command(name: Annotated[str, typer.Argument(metavar="MONITOR", help="Name or id.")],
                   db: DbOption = None) -> None:
    """Remove a monitor with its results."""
    engine = store(db)
    view = get_monitor(engine, int(name) if name.isdigit() else name)
    delete_monitor(engine, view.id)
    typer.echo(f"monitor {view.name!r} removed")


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor_command)
    app.add_typer(monitors_app, name="monitors")
