"""Dialect-specific schema that the ORM models do not describe: full-text search."""

from __future__ import annotations

FTS_TABLE = "calls_fts"

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


def is_managed_by_migrations_only(table_name: str) -> bool:
    """True for tables that migrations create by hand (FTS and its shadow tables)."""
    return table_name == FTS_TABLE or table_name.startswith(FTS_TABLE + "_")
