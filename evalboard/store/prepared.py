"""Run a hot SELECT as SQL compiled once per shape, straight on the driver.

Statements whose every value is a bound parameter with a fixed name (NamedBinds) compile to
the same SQL whenever the same names appear; PreparedSelect keeps that SQL with the
parameters' type conversions, and runs it with new values on the pooled DBAPI connection,
converting the result columns as SQLAlchemy would. Only for reads where SQLAlchemy's
per-statement cost would exceed the database's own (a Browse page: ~0.1 ms in SQLite).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Connection, Select, bindparam


class NamedBinds:
    """Makes named bound parameters and remembers their values (named=False: plain values,
    so the same query code also builds ordinary statements)."""

    def __init__(self, *, named: bool = True) -> None:
        self.named = named
        self.values: dict[str, Any] = {}

    def __call__(self, name: str, value: Any, column: Any) -> Any:
        if not self.named:
            return value
        self.values[name] = value
        return bindparam(name, value, type_=column.type)


Processor = Callable[[Any], Any] | None


@dataclass
class PreparedSelect:
    sql: str
    positions: tuple[str, ...] | None  # parameter names in order; None for named paramstyles
    defaults: dict[str, Any]  # every parameter's value in the compiled statement
    bind_processors: dict[str, Processor]
    result_types: tuple[Any, ...]  # the dialect's type of each column
    dialect: Any
    result_processors: list[tuple[int, Callable[[Any], Any]]] | None = None  # on first fetch

    @staticmethod
    def compile(conn: Connection, statement: Select[Any]) -> PreparedSelect:
        dialect = conn.dialect
        compiled = statement.compile(dialect=dialect)
        binds: dict[str, BindParameter[Any]] = {
            name: bind for bind, name in compiled.bind_names.items()}
        return PreparedSelect(
            sql=compiled.string,
            positions=tuple(compiled.positiontup) if compiled.positiontup is not None else None,
            defaults=compiled.construct_params(),
            bind_processors={name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                             for name, bind in binds.items()},
            result_types=tuple(column.type.dialect_impl(dialect)
                               for column in statement.selected_columns),
            dialect=dialect)

    def fetch(self, conn: Connection, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Every row for these values (the rest keep their compiled values)."""
        params = {**self.defaults, **values}
        for name, process in self.bind_processors.items():
            if process is not None and params[name] is not None:
                params[name] = process(params[name])
        cursor = conn.connection.cursor()
        try:
            cursor.execute(self.sql, params if self.positions is None else
                           tuple(params[name] for name in self.positions))
            rows = cursor.fetchall()
            if self.result_processors is None:  # they may depend on the driver's type codes
                self.result_processors = [
                    (k, process) for k, (kind, column) in enumerate(
                        zip(self.result_types, cursor.description, strict=True))
                    if (process := kind.result_processor(self.dialect, column[1]))]
        finally:
            cursor.close()
        if not self.result_processors:
            return rows
        converted = []
        for row in rows:
            cells = list(row)
            for k, process in self.result_processors:
                if cells[k] is not None:
                    cells[k] = process(cells[k])
            converted.append(tuple(cells))
        return converted
