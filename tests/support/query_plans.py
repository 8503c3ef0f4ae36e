"""SQLite (and PostgreSQL) plans of metric queries, with their real bound parameters (so tests
and benchmarks see what the application runs): the EXPLAIN QUERY PLAN lines, and (SQLite)
whether the bytecode reads any column of a table's rows (a covering plan reads only index
entries). Tests and bench/ import it from here: the library itself has no use for it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable


class Explain(Executable, ClauseElement):
    """`EXPLAIN [QUERY PLAN] <statement>` (SQLite; PostgreSQL's plain EXPLAIN)."""

    inherit_cache = False

    def __init__(self, statement: Any, *, query_plan: bool = True) -> None:
        self.statement = statement
        self.query_plan = query_plan


@compiles(Explain, "sqlite")
def _compile_explain(element: Explain, compiler: Any, **kw: Any) -> str:
    prefix = "EXPLAIN QUERY PLAN " if element.query_plan else "EXPLAIN "
    return prefix + compiler.process(element.statement, **kw)


@compiles(Explain, "postgresql")
def _compile_explain_postgresql(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN " + compiler.process(element.statement, **kw)


def query_plan(conn: Connection, statement: Any) -> list[str]:
    """The detail lines of the plan for a statement, outermost first."""
    return [row[-1] for row in _explain_rows(conn, Explain(statement))]


def _explain_rows(conn: Connection, explain: Explain) -> list[tuple[Any, ...]]:
    """EXPLAIN's rows straight from the driver: the statement's own result types (a date
    column, say) must not be applied to them."""
    if conn.dialect.name == "postgresql":  # its result metadata would be set up all the same
        compiled = explain.compile(conn, compile_kwargs={"render_postcompile": True})
        return list(conn.exec_driver_sql(str(compiled), compiled.params).cursor.fetchall())
    return list(conn.execute(explain).cursor.fetchall())


def reads_table_rows(conn: Connection, statement: Any, table: str) -> bool:
    """True when the statement's bytecode reads a column of `table`'s rows (not its indexes)."""
    root = conn.execute(text("SELECT rootpage FROM sqlite_schema WHERE type = 'table' "
                             "AND name = :name"), {"name": table}).scalar_one()
    program = _explain_rows(conn, Explain(statement, query_plan=False))
    cursors = {row[2] for row in program if row[1] == "OpenRead" and row[3] == root}
    return any(row[1] == "Column" and row[2] in cursors for row in program)
