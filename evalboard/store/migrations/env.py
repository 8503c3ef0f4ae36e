"""Alembic environment: runs on the connection evalboard passes in, or on $EVALBOARD_DB_URL."""

from __future__ import annotations

from alembic import context

from evalboard.store.schema import Base
from evalboard.store.schema_extras import include_object

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from evalboard.store.engine import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url") or None)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("evalboard migrations run online only: use `evalboard db upgrade`")
run_migrations_online()
