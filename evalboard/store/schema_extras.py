"""Dialect-specific schema that the ORM models do not describe: full-text search.

SQLite: an FTS5 table kept in step with `calls` by triggers. PostgreSQL: a stored generated
column `PG_FTS_COLUMN` holding `PG_FTS_DOCUMENT` (the `simple` configuration: lower-cased words,
no stemming, no stop words, like FTS5's unicode61 tokenizer) and a GIN index on it (migrations
0006 and 0017); `evalboard.store.pg_search` queries that column.
"""

from __future__ import annotations

from typing import Any

FTS_TABLE = "calls_fts"
PG_TS_CONFIG = "simple"
PG_FTS_INDEX = "ix_calls_fulltext"
PG_FTS_COLUMN = "search_document"
PG_FTS_DOCUMENT = f"to_tsvector('{PG_TS_CONFIG}', input_text || ' ' || coalesce(output, ''))"

SQLITE_FTS_CREATE = [
    f"""CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(
        input_text, output, content='calls', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    f"""CREATE TRIGGER calls_fts_ai AFTER INSERT ON calls BEGIN
        INSERT INTO {FTS_TABLE}(rowid, input_text, output)
        VALUES (new.id, new.input_text, new.output);
    END""",
    f"""CREATE TRIGGER calls_fts_ad AFTER DELETE ON calls BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, input_text, output)
        VALUES ('delete', old.id, old.input_text, old.output);
    END""",
    f"""CREATE TRIGGER calls_fts_au AFTER UPDATE OF input_text, output ON calls BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, input_text, output)
        VALUES ('delete', old.id, old.input_text, old.output);
        INSERT INTO {FTS_TABLE}(rowid, input_text, output)
        VALUES (new.id, new.input_text, new.output);
    END""",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
]

SQLITE_FTS_DROP = [
    "DROP TRIGGER IF EXISTS calls_fts_ai",
    "DROP TRIGGER IF EXISTS calls_fts_ad",
    "DROP TRIGGER IF EXISTS calls_fts_au",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]


def is_managed_by_migrations_only(table_name: str, type_: str = "table") -> bool:
    """True for objects that migrations create by hand: the SQLite FTS table and its shadow
    tables, the PostgreSQL full-text index and its stored document column."""
    if type_ == "index":
        return table_name == PG_FTS_INDEX
    if type_ == "column":
        return table_name == PG_FTS_COLUMN
    return table_name == FTS_TABLE or table_name.startswith(FTS_TABLE + "_")


def include_object(obj: Any, name: str | None, type_: str, reflected: bool,
                   compare_to: Any) -> bool:
    """Alembic's autogenerate filter: leave the objects that only migrations manage out."""
    return not (type_ in ("table", "index", "column") and name is not None
                and is_managed_by_migrations_only(name, type_))
