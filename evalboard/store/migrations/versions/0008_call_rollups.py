"""call rollups per day, model version and source (counts, sums, latency histogram)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

import math
from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_COLUMNS = ("day", "model_version_id", "source")


def _key_columns() -> list[sa.Column]:
    return [sa.Column("day", sa.Date(), nullable=False),
            sa.Column("model_version_id", sa.Integer(), nullable=False),
            sa.Column("source", sa.String(length=16), nullable=False)]


def _version_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["model_version_id"], ["model_versions.id"],
                                   name=op.f(f"fk_{table}_model_version_id_model_versions"))


def upgrade() -> None:
    counts = ("calls", "errors", "latency_calls")
    op.create_table(
        "call_days",
        *_key_columns(),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in counts),
        sa.Column("latency_sum", sa.Float(), nullable=False),
        sa.Column("prompt_token_calls", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_token_calls", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        _version_key("call_days"),
        sa.PrimaryKeyConstraint(*KEY_COLUMNS, name=op.f("pk_call_days")),
    )
    op.create_table(
        "call_latency_days",
        *_key_columns(),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        _version_key("call_latency_days"),
        sa.PrimaryKeyConstraint(*KEY_COLUMNS, "bucket", name=op.f("pk_call_latency_days")),
    )
    _fill_rollups(op.get_bind())


# Frozen at this revision: the latency histogram's log-scale buckets (0.5% relative accuracy).
_GAMMA = (1 + 0.005) / (1 - 0.005)
_ZERO_BUCKET = -(2**31)
_SUMS = ("calls", "errors", "latency_calls", "latency_sum", "prompt_token_calls",
         "prompt_tokens", "completion_token_calls", "completion_tokens")
_CHUNK = 20_000


def _bucket(latency_ms: float) -> int:
    return _ZERO_BUCKET if latency_ms <= 0 else math.ceil(math.log(latency_ms) / math.log(_GAMMA))


def _day(created_at: datetime | str) -> date:
    return (datetime.fromisoformat(created_at) if isinstance(created_at, str)
            else created_at).date()


def _fill_rollups(conn: sa.Connection) -> None:
    """Sum every stored call into the new (empty) rollup tables, reading calls in id order."""
    calls = sa.table("calls", *(sa.column(name) for name in (
        "id", "created_at", "model_version_id", "source", "error", "latency_ms",
        "prompt_tokens", "completion_tokens")))
    days: dict[tuple, list] = {}
    latencies: dict[tuple, int] = {}
    last_id = 0
    while True:
        rows = conn.execute(sa.select(calls).where(calls.c.id > last_id)
                            .order_by(calls.c.id).limit(_CHUNK)).all()
        if not rows:
            break
        for _id, created_at, version_id, source, error, latency, prompt, completion in rows:
            key = (_day(created_at), version_id, source or "production")
            sums = days.setdefault(key, [0, 0, 0, 0.0, 0, 0, 0, 0])
            sums[0] += 1
            sums[1] += error is not None
            if latency is not None:
                sums[2] += 1
                sums[3] += latency
                bucket = (*key, _bucket(latency))
                latencies[bucket] = latencies.get(bucket, 0) + 1
            if prompt is not None:
                sums[4] += 1
                sums[5] += prompt
            if completion is not None:
                sums[6] += 1
                sums[7] += completion
        last_id = rows[-1][0]
    key_names = ("day", "model_version_id", "source")
    day_table = sa.table("call_days", *(sa.column(n) for n in (*key_names, *_SUMS)))
    latency_table = sa.table("call_latency_days",
                             *(sa.column(n) for n in (*key_names, "bucket", "calls")))
    day_rows = [dict(zip((*key_names, *_SUMS), (*key, *sums), strict=True))
                for key, sums in sorted(days.items())]
    latency_rows = [dict(zip((*key_names, "bucket", "calls"), (*key, count), strict=True))
                    for key, count in sorted(latencies.items())]
    for table, rows in ((day_table, day_rows), (latency_table, latency_rows)):
        for start in range(0, len(rows), _CHUNK):
            conn.execute(table.insert(), rows[start:start + _CHUNK])


def downgrade() -> None:
    op.drop_table("call_latency_days")
    op.drop_table("call_days")
