"""Run Alembic programmatically on a store: bring it to head before use, report current and
history. A store whose revision this evalboard does not know (a newer evalboard upgraded it) is
refused with NewerStoreError before anything is written."""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine

from evalboard import clock
from evalboard.errors import EvalboardError
from evalboard.store.backup import BackupError, backup_sqlite, sqlite_path, tables_with_user_data

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"  # Alembic env and versions


class StoreRevisionError(EvalboardError):
    """The store's schema revision does not fit this evalboard, or no such revision exists."""


class NewerStoreError(StoreRevisionError):
    """The store is at a revision this evalboard does not know: a newer evalboard migrated it."""

    def __init__(self, current: str, head: str) -> None:
        super().__init__(
            f"the store is at schema revision {current}, which this evalboard does not know "
            f"(the newest it knows is {head}): a newer evalboard upgraded it; upgrade evalboard "
            "to use this store")
        self.current, self.head = current, head


class StoreBehindError(StoreRevisionError):
    """The store holds data at an older revision and was opened with upgrade=False."""

    def __init__(self, current: str, head: str) -> None:
        super().__init__(
            f"the store is at schema revision {current}, behind this evalboard's {head}: run "
            "`evalboard db upgrade` (it backs up a SQLite store first), or open it with "
            "upgrade=True")
        self.current, self.head = current, head


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


@cache
def _script() -> ScriptDirectory:
    """The migration scripts (read once: they do not change while evalboard runs)."""
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _script().get_current_head()
    assert head is not None, "migrations/ has no revisions"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def known_revision(engine: Engine) -> str | None:
    """The store's revision (None for a new store); NewerStoreError when this evalboard does
    not know it."""
    current = current_revision(engine)
    if current is not None and current not in {rev.revision for rev in _script().walk_revisions()}:
        raise NewerStoreError(current, head_revision())
    return current


def resolve_revision(revision: str) -> str:
    """The revision id that `revision` ("head", an id) names; StoreRevisionError if none."""
    try:
        resolved = _script().as_revision_number(revision)
        script = _script().get_revision(resolved) if isinstance(resolved, str) else None
    except CommandError:  # unknown, or a prefix of several
        script = None
    if script is None:
        raise StoreRevisionError(
            f"no schema revision {revision!r}: `evalboard db history` lists them")
    return script.revision


def prepare(engine: Engine, *, allow_upgrade: bool = True) -> Path | None:
    """Make the store ready for this evalboard before first use; returns the backup path when
    an upgrade made one.

    A new store, or one that holds no data yet, is upgraded. A store with data behind head is
    upgraded (and a SQLite one backed up first) unless `allow_upgrade` is False: then it raises
    StoreBehindError, which names `evalboard db upgrade`. A store at a revision this evalboard
    does not know raises NewerStoreError, and nothing is written.
    """
    current = known_revision(engine)
    if current == head_revision():
        return None
    if not allow_upgrade and current is not None and _holds_data(engine):
        raise StoreBehindError(current, head_revision())
    return upgrade(engine)


def _holds_data(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(tables_with_user_data(conn))


def upgrade(engine: Engine, revision: str = "head", *, backup: bool = True) -> Path | None:
    """Upgrade the store to `revision` (a no-op when it is there already).

    The store's revision and the target are checked first (NewerStoreError, StoreRevisionError),
    so a refused upgrade writes nothing. Before a non-empty SQLite store moves to a newer
    revision, it is backed up beside itself (`<db>.backup-<revision>-<timestamp>`, see
    `backup_before_upgrade`); returns that path.
    """
    current = known_revision(engine)
    target = resolve_revision(revision)
    if current == target:
        return None
    saved = backup_before_upgrade(engine, current, target) if backup else None
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)
    refresh_planner_statistics(engine)
    return saved


def backup_before_upgrade(engine: Engine, current: str | None, target: str) -> Path | None:
    """Back up a SQLite store that holds data and is about to change revision; None otherwise."""
    if engine.dialect.name != "sqlite" or current is None or target == current:
        return None
    try:
        database = sqlite_path(engine)
    except BackupError:  # in memory: nothing to keep
        return None
    with engine.connect() as conn:
        if not tables_with_user_data(conn):
            return None
    stamp = clock.now().strftime("%Y%m%d-%H%M%S")  # UTC, from the one clock
    path = database.with_name(f"{database.name}.backup-{current}-{stamp}")
    suffix = 1
    while path.exists():
        suffix += 1
        path = database.with_name(f"{database.name}.backup-{current}-{stamp}-{suffix}")
    backup_sqlite(engine, path)
    log.warning("evalboard: backed up the store to %s before migrating it from %s to %s",
                path, current, target)
    return path


ANALYZE_ABOVE_CALLS = 10_000


def refresh_planner_statistics(engine: Engine) -> None:
    """After a schema change on a sizeable SQLite store, let the planner see the new indexes'
    selectivity (a bounded ANALYZE, about 0.1 s at a million calls)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        has_calls = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'calls'").first()
        if not has_calls or (conn.exec_driver_sql("SELECT max(id) FROM calls").scalar() or 0
                             ) < ANALYZE_ABOVE_CALLS:
            return
        conn.exec_driver_sql("PRAGMA analysis_limit=400")
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def history() -> list[tuple[str, str | None, str]]:
    """(revision, down revision, message) from the oldest to the newest."""
    revisions = list(_script().walk_revisions())
    revisions.reverse()
    return [
        (
            rev.revision,
            rev.down_revision if isinstance(rev.down_revision, str) else None,
            rev.doc or "",
        )
        for rev in revisions
    ]
