"""Run Alembic programmatically on a store: upgrade before first use, report current and history."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

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


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the store to `revision` (a no-op when it is there already)."""
    if revision == "head" and current_revision(engine) == head_revision():
        return
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    refresh_planner_statistics(engine)


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
