"""Run Alembic programmatically on a store: upgrade before first use, report current and history."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from evalboard.store.backup import BackupError, backup_sqlite, sqlite_path, tables_with_user_data

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "migrations/ has no revisions"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head", *, backup: bool = True) -> Path | None:
    """Upgrade the store to `revision` (a no-op when it is there already).

    Before a non-empty SQLite store moves to a newer revision, it is backed up beside itself
    (`<db>.backup-<revision>-<timestamp>`, see `backup_before_upgrade`); returns that path.
    """
    current = current_revision(engine)
    if revision == "head" and current == head_revision():
        return None
    saved = backup_before_upgrade(engine, current, revision) if backup else None
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    refresh_planner_statistics(engine)
    return saved


def backup_before_upgrade(engine: Engine, current: str | None, revision: str) -> Path | None:
    """Back up a SQLite store that holds data and is about to change revision; None otherwise."""
    if engine.dialect.name != "sqlite" or current is None:
        return None
    target = ScriptDirectory.from_config(alembic_config()).as_revision_number(revision)
    if target == current:
        return None
    try:
        database = sqlite_path(engine)
    except BackupError:  # in memory: nothing to keep
        return None
    with engine.connect() as conn:
        if not tables_with_user_data(conn):
            return None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
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
    script = ScriptDirectory.from_config(alembic_config())
    revisions = list(script.walk_revisions())
    revisions.reverse()
    return [
        (
            rev.revision,
            rev.down_revision if isinstance(rev.down_revision, str) else None,
            rev.doc or "",
        )
        for rev in revisions
    ]
