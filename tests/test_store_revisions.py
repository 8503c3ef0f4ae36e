"""Opening a store whose schema revision differs from this evalboard's head: a newer store is
refused in one line without a backup; a store behind head is upgraded (SQLite: backed up first)
or, with upgrade=False, refused with a pointer to `evalboard db upgrade`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

import evalboard
from evalboard.cli.main import main as cli_main
from evalboard.errors import EvalboardError
from evalboard.store import NewerStoreError, StoreBehindError, migrate, open_store
from evalboard.store.engine import make_engine
from tests.support.calls import add_calls

FUTURE = "9999_from_a_newer_evalboard"
OLD = "0001"


def _backups(db_url: str) -> list[Path]:
    """Backup files beside a SQLite store (none can exist for PostgreSQL)."""
    if not db_url.startswith("sqlite:///"):
        return []
    database = Path(db_url.removeprefix("sqlite:///"))
    return sorted(database.parent.glob(f"{database.name}.backup-*"))


def _stamp(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :rev"), {"rev": revision})


def _run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["evalboard", *args])
    with pytest.raises(SystemExit) as exited:
        cli_main()
        sys.exit(0)
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


@pytest.fixture
def newer_store(engine, db_url) -> str:
    """A store holding a call, stamped with a revision this evalboard does not know."""
    add_calls(engine, [{"input": "kept", "output": "safe"}])
    _stamp(engine, FUTURE)
    return db_url


@pytest.fixture
def behind_store(db_url) -> str:
    """A store holding a call at the first revision."""
    engine = make_engine(db_url)
    migrate.upgrade(engine, OLD)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO model_versions (id, name, created_at) "
                          "VALUES (1, 'v', '2026-01-01')"))
        conn.execute(text(
            "INSERT INTO calls (id, created_at, model_version_id, source, input_text, output) "
            "VALUES (1, '2026-01-01', 1, 'production', 'old prompt', 'old answer')"))
    engine.dispose()
    return db_url


def _revision(db_url: str) -> str | None:
    engine = make_engine(db_url)
    try:
        return migrate.current_revision(engine)
    finally:
        engine.dispose()


def test_a_newer_store_is_refused_in_one_line_without_a_backup(newer_store):
    head = migrate.head_revision()
    for opening in (lambda: open_store(newer_store), lambda: open_store(newer_store, upgrade=False),
                    lambda: evalboard.connect(newer_store, mode="sync")):
        with pytest.raises(NewerStoreError) as refused:
            opening()
        message = str(refused.value)
        assert isinstance(refused.value, EvalboardError)
        assert FUTURE in message and head in message and "\n" not in message
    engine = make_engine(newer_store)
    with pytest.raises(NewerStoreError):
        migrate.upgrade(engine)  # what `evalboard db upgrade` runs
    with engine.connect() as conn:
        assert conn.execute(text("SELECT input_text FROM calls")).scalar_one() == "kept"
    engine.dispose()
    assert _revision(newer_store) == FUTURE
    assert _backups(newer_store) == []


def test_the_cli_names_both_revisions_of_a_newer_store(newer_store, monkeypatch, capsys,
                                                       tmp_path):
    for command in (["db", "upgrade"], ["export", str(tmp_path / "calls.jsonl")]):
        code, out, err = _run_cli(monkeypatch, capsys, *command)
        lines = err.strip().splitlines()
        assert code == 1 and len(lines) == 1 and "Traceback" not in out + err, err
        assert lines[0].startswith("error: the store is at schema revision " + FUTURE)
        assert migrate.head_revision() in lines[0]
    assert _backups(newer_store) == []


def test_the_cli_refuses_an_unknown_target_revision(engine, monkeypatch, capsys):
    code, _out, err = _run_cli(monkeypatch, capsys, "db", "upgrade", "no_such_revision")
    assert code == 1 and err.strip() == (
        "error: no schema revision 'no_such_revision': `evalboard db history` lists them")


def test_upgrade_false_refuses_a_store_behind_head_and_names_the_command(behind_store):
    for opening in (lambda: open_store(behind_store, upgrade=False),
                    lambda: evalboard.connect(behind_store, mode="sync", upgrade=False)):
        with pytest.raises(StoreBehindError) as refused:
            opening()
        message = str(refused.value)
        assert "`evalboard db upgrade`" in message and OLD in message
        assert migrate.head_revision() in message and "\n" not in message
    assert _revision(behind_store) == OLD
    assert _backups(behind_store) == []


def test_a_store_behind_head_is_upgraded_by_default_with_a_backup(behind_store):
    engine = open_store(behind_store)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT input_text FROM calls")).scalar_one() == "old prompt"
    engine.dispose()
    assert _revision(behind_store) == migrate.head_revision()
    if behind_store.startswith("sqlite:///"):
        assert [path.name.split(".backup-")[1][:len(OLD)] for path in
                _backups(behind_store)] == [OLD]


def test_db_upgrade_still_upgrades_a_store_behind_head(behind_store, monkeypatch, capsys):
    code, out, err = _run_cli(monkeypatch, capsys, "db", "upgrade")
    assert code == 0, err
    assert out.startswith(f"upgraded {OLD} -> {migrate.head_revision()}")
    assert _revision(behind_store) == migrate.head_revision()


def test_upgrade_false_still_prepares_a_new_or_empty_store(db_url):
    engine = open_store(db_url, upgrade=False)  # a new store
    assert migrate.current_revision(engine) == migrate.head_revision()
    migrate.downgrade(engine, OLD)  # an old store that holds no data yet
    engine.dispose()
    engine = open_store(db_url, upgrade=False)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()
    assert _backups(db_url) == []
