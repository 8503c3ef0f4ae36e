"""PostgreSQL full-text search over call input and output, with the same query language as SQLite.

Plain search uses `plainto_tsquery` (every word required). Advanced search takes the tokens that
`search_syntax.parse_advanced` made of the FTS5-style syntax the README documents (`AND`, `OR`,
`NOT`, "phrases", prefix*, parentheses) and writes them as a `to_tsquery` expression. The document
expression matches the GIN index of migration 0006 (schema_extras.PG_FTS_DOCUMENT), so the
planner can use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Boolean, ColumnElement, func, literal_column

from evalboard.store.schema_extras import PG_TS_CONFIG
from evalboard.store.search_syntax import PreparedSearch, Term, Token

_CONFIG = literal_column(f"'{PG_TS_CONFIG}'")
_OPERATORS = {"AND": "&", "OR": "|", "NOT": "& !", "(": "(", ")": ")"}


def fts_document(input_text: Any, output: Any) -> ColumnElement[Any]:
    """`to_tsvector('simple', input_text || ' ' || coalesce(output, ''))`, constants inline."""
    text = input_text.op("||")(literal_column("' '")).op("||")(
        func.coalesce(output, literal_column("''")))
    return func.to_tsvector(_CONFIG, text)


def _lexeme(term: Term) -> str:
    quoted = "'" + term.text.replace("\\", "\\\\").replace("'", "''") + "'"
    return quoted + (":*" if term.prefix else "")


def tsquery_text(tokens: Sequence[Token]) -> str:
    """Parsed advanced-search tokens as `to_tsquery` syntax.

    Words and phrases become quoted lexemes (a phrase's words must be adjacent), `word*` a
    prefix match; `a NOT b` means a and not b, as in FTS5.
    """
    return " ".join(_lexeme(token) if isinstance(token, Term) else _OPERATORS[token]
                    for token in tokens)


def fts_match(input_text: Any, output: Any, search: PreparedSearch) -> ColumnElement[bool]:
    """`document @@ tsquery` for a prepared plain or advanced search."""
    tsquery = (func.plainto_tsquery(_CONFIG, search.text) if search.tokens is None
               else func.to_tsquery(_CONFIG, tsquery_text(search.tokens)))
    return fts_document(input_text, output).op("@@", return_type=Boolean)(tsquery)
