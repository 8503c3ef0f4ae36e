"""PostgreSQL full-text search over call input and output, with the same query language as SQLite.

Plain search uses `plainto_tsquery` (every word required). Advanced search takes the tokens that
`search_syntax.parse_advanced` made of the FTS5-style syntax the README documents (`AND`, `OR`,
`NOT`, "phrases", prefix*, parentheses) and writes them as a `to_tsquery` expression, matched
against the stored document column of migration 0017 (schema_extras.PG_FTS_COLUMN), which the
GIN index covers.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Boolean, ColumnElement, func, literal_column

from evalboard.store.schema_extras import PG_FTS_COLUMN, PG_TS_CONFIG
from evalboard.store.search_syntax import PreparedSearch, Term, Token

_CONFIG = literal_column(f"'{PG_TS_CONFIG}'")
_OPERATORS = {"AND": "&", "OR": "|", "NOT": "& !", "(": "(", ")": ")"}


_DOCUMENT = literal_column(f"calls.{PG_FTS_COLUMN}")


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


def fts_match(search: PreparedSearch) -> ColumnElement[bool]:
    """`calls.search_document @@ tsquery` for a prepared plain or advanced search."""
    tsquery = (func.plainto_tsquery(_CONFIG, search.text) if search.tokens is None
               else func.to_tsquery(_CONFIG, tsquery_text(search.tokens)))
    return _DOCUMENT.op("@@", return_type=Boolean)(tsquery)
