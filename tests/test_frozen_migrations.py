"""Migrations are frozen history: no revision imports live evalboard code, and a store filled
at every earlier revision upgrades to head with its data kept and every backfill equal to what
today's code computes (input hashes, rollups, run totals, current judgements)."""

from __future__ import annotations

import ast
import json
import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, MetaData, Table, func, insert, select, text

from evalboard.review.annotations import rebuild_current_flags, rebuild_final_flags
from evalboard.runs.totals import record_run_totals
from evalboard.store import migrate
from evalboard.store.engine import make_engine
from evalboard.store.records import input_hash
from evalboard.store.rollups import rebuild_rollups

VERSIONS = migrate.MIGRATIONS_DIR / "versions"
T0 = datetime(2026, 10, 30, 22, 0)


def test_no_migration_imports_live_evalboard_code() -> None:
    offenders = []
    for path in sorted(VERSIONS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {name}" for name in names
                          if name.split(".")[0] == "evalboard"]
    assert offenders == []


def _earlier_revisions() -> list[str]:
    return [revision for revision, _down, _doc in migrate.history()][:-1]


def _values(rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    """Rows for every table an old store may have (columns a revision lacks are dropped)."""
    versions = [{"id": 1, "name": "v1", "created_at": T0}, {"id": 2, "name": "v2",
                                                             "created_at": T0}]
    calls = []
    for i in range(1, 241):
        prompt = rng.choice(["Capital of France?", "  capital OF france? ", "Refund window?",
                             "Write SQL", "Résumé \u00e9t\u00e9"]) + (f" {i}" if i % 3 else "")
        calls.append({
            "id": i, "created_at": T0 + timedelta(minutes=17 * i), "model_version_id": 1 + i % 2,
            "source": rng.choice(["production", "eval", "import"]), "input_text": prompt,
            "input_messages": None, "output": f"answer {i}",
            "latency_ms": rng.choice([None, 0.0, 1.5, 120.0, 980.25, 4000.0]),
            "prompt_tokens": rng.choice([None, 3, 40]),
            "completion_tokens": rng.choice([None, 7, 300]), "total_tokens": None,
            "error": "boom" if i % 11 == 0 else None, "metadata": {"i": i},
            "session_id": None, "external_id": f"ext-{i}", "input_hash": input_hash(prompt)})
    annotations, links = [], []
    for i in range(1, 121):
        call_id = rng.randint(1, 60)
        reviewer = rng.choice(["ana", "ben"])
        action = "retract" if i % 9 == 0 and annotations else rng.choice(["judge"] * 5 + ["skip"])
        retracts = rng.choice(annotations)["id"] if action == "retract" else None
        annotations.append({
            "id": i, "call_id": call_id, "reviewer": reviewer, "action": action,
            "verdict": rng.choice(["pass", "fail", "unsure"]) if action == "judge" else None,
            "note": None, "corrected_output": None, "seconds_spent": 2.0,
            "retracts_id": retracts, "batch_id": None, "review_session_id": None,
            "created_at": T0 + timedelta(seconds=i), "is_current": False})
        if action == "judge" and i % 2:
            links.append({"annotation_id": i, "label_id": None})
    suites = [{"id": 1, "name": "s", "description": "", "created_at": T0}]
    cases, case_versions = [], []
    for i in range(1, 9):
        label = ["hallucination", "wrong format", None][i % 3]
        cases.append({"id": i, "suite_id": 1, "name": f"case-{i}", "active": True,
                      "current_version": 1, "mode": "success", "label": label,
                      "severity": "medium", "created_at": T0})
        case_versions.append({
            "id": i, "case_id": i, "version": 1, "name": f"case-{i}", "input_text": f"q {i}",
            "input_messages": None, "mode": "success", "label": label,
            "checks": [{"type": "contains", "params": {"value": "a"}}], "references": [],
            "expected_entities": [], "tags": [], "severity": "medium", "threshold": None,
            "created_at": T0})
    runs, results, checks = [], [], []
    for run_id, status in ((1, "finished"), (2, "finished"), (3, "running")):
        runs.append({"id": run_id, "suite_id": 1, "model_version_id": 1 + run_id % 2,
                     "generator": "callable", "generator_config": {}, "selection": {},
                     "status": status, "total_cases": 8, "started_at": T0,
                     "finished_at": T0 if status == "finished" else None})
        for case_id in range(1, 9):
            result_id = len(results) + 1
            outcome = rng.choice(["pass", "pass", "fail", "error", "missing"])
            results.append({"id": result_id, "run_id": run_id, "case_id": case_id,
                            "case_version_id": case_id, "call_id": None, "status": outcome,
                            "passed": outcome == "pass", "score": 1.0 if outcome == "pass"
                            else 0.25, "error": None, "latency_ms": 3.0, "created_at": T0})
            for position in range(rng.randint(0, 2)):
                score = rng.random()
                checks.append({"id": len(checks) + 1, "case_result_id": result_id,
                               "position": position, "check_type": rng.choice(
                                   ["contains", "regex"]), "params": {}, "negate": False,
                               "weight": 1.0, "threshold": None, "passed": score > 0.5,
                               "score": score, "reason": "r", "error": None})
    return {"model_versions": versions, "calls": calls, "annotations": annotations,
            "annotation_labels": links, "suites": suites, "test_cases": cases,
            "case_versions": case_versions, "eval_runs": runs, "case_results": results,
            "check_results": checks}


def _fill(conn: Connection, rng: random.Random) -> dict[str, int]:
    """Insert the rows of every table this revision has; returns the rows per table."""
    meta = MetaData()
    meta.reflect(conn)
    label_ids = []
    if "labels" in meta.tables:
        label_ids = list(conn.scalars(select(meta.tables["labels"].c.id)))
    written = {}
    for name, rows in _values(rng).items():
        if name not in meta.tables:
            continue
        table: Table = meta.tables[name]
        if name == "annotation_labels":
            if not label_ids:
                continue
            rows = [{**row, "label_id": label_ids[row["annotation_id"] % len(label_ids)]}
                    for row in rows]
        columns = set(table.columns.keys())
        rows = [{key: value for key, value in row.items() if key in columns} for row in rows]
        conn.execute(insert(table), rows)
        written[name] = len(rows)
    # what the code at this revision keeps current on every write
    if "call_days" in meta.tables:
        rebuild_rollups(conn)
    if "run_totals" in meta.tables:
        for run_id in conn.scalars(text("SELECT id FROM eval_runs WHERE status = 'finished'")):
            record_run_totals(conn, run_id)
    columns = meta.tables["annotations"].columns if "annotations" in meta.tables else {}
    if "is_current" in columns:  # what a store of this revision's writes keep
        rebuild_current_flags(conn)
    if "is_final" in columns:
        rebuild_final_flags(conn)
    return written


def _table_rows(conn: Connection, name: str, order: str) -> list[tuple]:
    """The table's rows; floats rounded (a sum's last bit depends on the order it adds in)."""
    return [tuple(round(value, 9) if isinstance(value, float) else value for value in row)
            for row in conn.execute(text(f"SELECT * FROM {name} ORDER BY {order}"))]


def _recomputed(conn: Connection, name: str, order: str, rebuild) -> list[tuple]:
    """What today's code computes for a backfilled table, in a transaction rolled back."""
    transaction = conn.begin_nested()
    rebuild()
    rows = _table_rows(conn, name, order)
    transaction.rollback()
    return rows


@pytest.mark.parametrize("revision", _earlier_revisions())
def test_a_store_filled_at_an_earlier_revision_upgrades_with_its_data(db_url, revision) -> None:
    engine = make_engine(db_url)
    migrate.upgrade(engine, revision)
    with engine.begin() as conn:
        written = _fill(conn, random.Random(revision))
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as conn:
        for name, count in written.items():
            assert conn.scalar(text(f"SELECT count(*) FROM {name}")) == count, name
        hashes = conn.execute(text("SELECT input_text, input_hash FROM calls")).all()
        assert all(stored == input_hash(text_) for text_, stored in hashes)
        metadata = conn.execute(text("SELECT metadata FROM calls WHERE id = 7")).scalar()
        if metadata is not None:
            assert (json.loads(metadata) if isinstance(metadata, str) else metadata) == {"i": 7}
        if written.get("calls"):
            assert conn.scalar(text("SELECT sum(calls) FROM call_days")) == written["calls"]
        day_order = "day, model_version_id, source"
        assert _table_rows(conn, "call_days", day_order) == _recomputed(
            conn, "call_days", day_order, lambda: rebuild_rollups(conn))
        latency_order = day_order + ", bucket"
        assert _table_rows(conn, "call_latency_days", latency_order) == _recomputed(
            conn, "call_latency_days", latency_order, lambda: rebuild_rollups(conn))
        totals_order = "run_id, kind, key"
        finished = list(conn.scalars(text("SELECT id FROM eval_runs WHERE status = 'finished'")))
        assert _table_rows(conn, "run_totals", totals_order) == _recomputed(
            conn, "run_totals", totals_order,
            lambda: [record_run_totals(conn, run_id) for run_id in finished])
        if written.get("eval_runs"):
            assert conn.scalar(text("SELECT count(DISTINCT run_id) FROM run_totals")) == 2
        flags = "SELECT id, is_current, is_final FROM annotations ORDER BY id"
        stored_flags = conn.execute(text(flags)).all()
        transaction = conn.begin_nested()
        rebuild_current_flags(conn)
        rebuild_final_flags(conn)
        assert stored_flags == conn.execute(text(flags)).all()
        transaction.rollback()
        if written.get("annotations"):
            assert conn.scalar(select(func.count()).select_from(text("annotations"))
                               .where(text("is_current"))) > 0
    engine.dispose()

