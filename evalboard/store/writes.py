"""Write calls and model versions: the one path every logger, importer and demo goes through."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from evalboard.store.engine import write_connection
from evalboard.store.ids import IdPool, PrefetchingIdPool
from evalboard.store.models import Call, ModelVersion, utcnow
from evalboard.store.partitions import ensure_month_partitions
from evalboard.store.rollups import RollupDelta
from evalboard.store.upsert import conflict_insert

CALL_COLUMNS = [c.key for c in Call.__table__.columns]
_COPIED_COLUMNS = tuple(k for k in CALL_COLUMNS if k not in ("model_version_id", "metadata"))
# A multi-row INSERT ... VALUES (SQLAlchemy's "insertmanyvalues", which it takes for an INSERT
# with RETURNING): one statement per 1,000 rows instead of one per row. On SQLite, FTS5 flushes
# its pending terms at every statement that fires the full-text trigger (a statement savepoint):
# per row that is ~8x the index work of one multi-row statement, and it was about a third of a
# call's write cost on a 1M-call store.
_INSERT_CALLS = insert(Call.__table__).returning(Call.__table__.c.id)
# PostgreSQL: the driver's executemany of a one-row INSERT (psycopg pipelines it). A statement of
# 1,000 rows has 16,000 placeholders, too long for psycopg's query cache: it re-parsed every
# batch's SQL in Python (~150 ms a batch, half a call's write cost).
_INSERT_CALL_ROWS = insert(Call.__table__)


@dataclass(frozen=True)
class WriteSummary:
    """How many rows were inserted and how many were stored already; `ids` is each row's
    stored id, in order (a row whose external id was stored already: that call's id)."""

    inserted: int
    already_present: int
    ids: tuple[int, ...] = ()


def ensure_model_versions(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    """Ids of the named model versions, creating the missing ones."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    found = dict(
        conn.execute(
            select(ModelVersion.name, ModelVersion.id).where(ModelVersion.name.in_(wanted))
        ).all()
    )
    missing = [name for name in wanted if name not in found]
    if missing:
        now = utcnow()
        conn.execute(
            conflict_insert(conn.dialect.name, ModelVersion)
            .values([{"name": name, "created_at": now} for name in missing])
            .on_conflict_do_nothing()
        )
        found.update(
            conn.execute(
                select(ModelVersion.name, ModelVersion.id).where(ModelVersion.name.in_(missing))
            ).all()
        )
    return found


def _existing_external_ids(
    conn: Connection, rows: Sequence[dict[str, Any]]
) -> set[tuple[str, str]]:
    """(source, external id) pairs of the rows that are stored already."""
    return set(_stored_external_ids(conn, rows))


def _stored_external_ids(
    conn: Connection, rows: Sequence[dict[str, Any]]
) -> dict[tuple[str, str], int]:
    """The stored call id of each (source, external id) pair of `rows` that is stored already.

    One `source = ? AND external_id IN (...)` per source and chunk: SQLite serves it from the
    unique index, where a row-value IN would scan the whole index.
    """
    by_source: dict[str, set[str]] = {}
    for row in rows:
        if row.get("external_id") is not None:
            by_source.setdefault(row["source"], set()).add(row["external_id"])
    present: dict[tuple[str, str], int] = {}
    for source, external_ids in by_source.items():
        ordered = sorted(external_ids)
        for start in range(0, len(ordered), 500):
            present.update(
                ((source, external_id), call_id)
                for external_id, call_id in conn.execute(
                    select(Call.external_id, Call.id).where(
                        Call.source == source,
                        Call.external_id.in_(ordered[start : start + 500]),
                    )
                )
            )
    return present


def _existing_ids(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[int]:
    wanted = sorted(row["id"] for row in rows)
    present: set[int] = set()
    for start in range(0, len(wanted), 500):
        present.update(conn.scalars(select(Call.id).where(Call.id.in_(wanted[start:start + 500]))))
    return present


def insert_calls(
    conn: Connection, rows: Sequence[dict[str, Any]], version_ids: dict[str, int]
) -> WriteSummary:
    """Insert normalised rows that already carry an `id`; skip (source, external_id) repeats."""
    present = _stored_external_ids(conn, rows)
    to_insert: list[dict[str, Any]] = []
    ids: list[int] = []
    for row in rows:
        if row.get("external_id") is not None:
            key = (row["source"], row["external_id"])
            if key in present:
                ids.append(present[key])
                continue
            present[key] = row["id"]
        values = {k: row.get(k) for k in _COPIED_COLUMNS}
        values["model_version_id"] = version_ids[row["model_version"]]
        values["metadata"] = row.get("meta")
        to_insert.append(values)
        ids.append(row["id"])
    if to_insert:
        conn.execute(_INSERT_CALL_ROWS if conn.dialect.name == "postgresql" else _INSERT_CALLS,
                     to_insert)
        RollupDelta().add_rows(to_insert).write(conn)
    return WriteSummary(inserted=len(to_insert), already_present=len(rows) - len(to_insert),
                        ids=tuple(ids))


def write_calls(
    engine: Engine,
    rows: Sequence[dict[str, Any]],
    ids: IdPool | PrefetchingIdPool,
    *,
    skip_stored_ids: bool = False,
) -> WriteSummary:
    """Give rows without an id one from the pool and write them in one short transaction.

    With skip_stored_ids, rows whose id is stored already are skipped (a spool replayed again).
    """
    missing = [row for row in rows if row.get("id") is None]
    for row, new_id in zip(missing, ids.take_many(len(missing)), strict=True):
        row["id"] = new_id
    topped_up = range(0)
    ensure_month_partitions(engine, (row.get("created_at") for row in rows))
    with write_connection(engine) as conn:
        versions = ensure_model_versions(conn, (row["model_version"] for row in rows))
        if isinstance(ids, PrefetchingIdPool):  # the writer holds the lock: top the stock up
            topped_up = ids.reserve_if_low(conn)
        if not skip_stored_ids:
            summary = insert_calls(conn, rows, versions)
        else:
            stored = _existing_ids(conn, rows)
            fresh = insert_calls(conn, [row for row in rows if row["id"] not in stored],
                                 versions)
            summary = WriteSummary(inserted=fresh.inserted,
                                   already_present=len(rows) - fresh.inserted)
    if isinstance(ids, PrefetchingIdPool):
        ids.add(topped_up)  # only once the reservation has committed
    return summary
