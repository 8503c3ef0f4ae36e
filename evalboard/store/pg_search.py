"""PostgreSQL full-text search over call input and output, with the same query language as SQLite.

Plain search uses `plainto_tsquery` (every word required; any text is valid). Advanced search
takes the FTS5 syntax the README documents (`AND`, `OR`, `NOT`, "phrases", prefix*,
parentheses), translated to a `to_tsquery` expression; a malformed query raises ValueError with
the reason before it reaches the database. The document expression matches the GIN index of
migration 0006 (schema_extras.PG_FTS_DOCUMENT), so the planner can use it.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Boolean, ColumnElement, func, literal_column

from evalboard.store.schema_extras import PG_TS_CONFIG

_CONFIG = literal_column(f"'{PG_TS_CONFIG}'")
# A phrase ("..." with "" for a quote inside, optionally followed by *), a parenthesis, or a word.
_TOKEN = re.compile(r'"(?P<phrase>(?:[^"]|"")*)"(?P<star>\*?)|(?P<paren>[()])|(?P<word>[^\s()"]+)')
_OPERATORS = {"AND": "&", "OR": "|", "NOT": "& !"}


def fts_document(input_text: Any, output: Any) -> ColumnElement[Any]:
    """`to_tsvector('simple', input_text || ' ' || coalesce(output, ''))`, constants inline."""
    text = input_text.op("||")(literal_column("' '")).op("||")(
        func.coalesce(output, literal_column("''")))
    return func.to_tsvector(_CONFIG, text)


def _lexeme(text: str, prefix: bool) -> str:
    quoted = "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
    return quoted + (":*" if prefix else "")


def tsquery_text(query: str) -> str:
    """Translate an FTS5-style advanced query into `to_tsquery` syntax (ValueError if malformed).

    Words and phrases become quoted lexemes (a phrase's words must be adjacent), `word*` a
    prefix match; adjacent terms are ANDed, and `a NOT b` means a and not b, as in FTS5.
    """
    parts: list[str] = []
    expect_term, depth, position = True, 0, 0
    for match in _TOKEN.finditer(query):
        if query[position:match.start()].strip():
            raise ValueError(f"unterminated quote in {query[position:].strip()!r}")
        position = match.end()
        word, paren = match["word"], match["paren"]
        if word in _OPERATORS:
            if expect_term:
                raise ValueError(f"{word} needs a word or phrase before it")
            parts.append(_OPERATORS[word])
            expect_term = True
        elif paren == ")":
            if expect_term:
                raise ValueError("nothing to search for before ')'")
            if depth == 0:
                raise ValueError("')' without a matching '('")
            depth -= 1
            parts.append(")")
        else:
            if not expect_term:
                parts.append("&")  # adjacent terms: all are required
            if paren == "(":
                depth += 1
                parts.append("(")
            elif word is not None:
                prefix = word.endswith("*") and len(word) > 1
                parts.append(_lexeme(word[:-1] if prefix else word, prefix))
            else:
                parts.append(_lexeme(match["phrase"].replace('""', '"'), bool(match["star"])))
            expect_term = paren == "("
    if query[position:].strip():
        raise ValueError(f"unterminated quote in {query[position:].strip()!r}")
    if parts and expect_term:
        raise ValueError("the query ends with an operator or '('")
    if depth:
        raise ValueError("'(' without a matching ')'")
    return " ".join(parts)


def fts_match(input_text: Any, output: Any, query: str, advanced: bool) -> ColumnElement[bool]:
    """`document @@ tsquery` for a plain (any text) or an advanced (FTS5-style) query."""
    tsquery = (func.to_tsquery(_CONFIG, tsquery_text(query)) if advanced
               else func.plainto_tsquery(_CONFIG, query))
    return fts_document(input_text, output).op("@@", return_type=Boolean)(tsquery)
