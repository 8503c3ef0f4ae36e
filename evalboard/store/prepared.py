"""Run a hot SELECT as SQL compiled once per shape, straight on the driver.

Statements whose every value is a bound parameter with a fixed name (NamedBinds) compile to
the same SQL whenever the same names appear; PreparedSelect keeps that SQL with the
parameters' type conversions, and runs it with new values on the pooled DBAPI connection,
converting the result columns as SQLAlchemy would. Only for reads where SQLAlchemy's
per-statement cost would exceed the database's own (a Browse page: ~0.1 ms in SQLite).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Connection, Select, bindparam


class NamedBinds:
    """Makes named bound parameters and remembers their values (named=False: plain values,
    so the same query code also builds ordinary statements). `of` names the request field
    whose value reaches the SQL only through this parameter: `bound_fields` then lets a
    cache key leave that field's value out (see `sql_shape`)."""

    def __init__(self, *, named: bool = True) -> None:
        self.named = named
        self.values: dict[str, Any] = {}
        self.bound_fields: set[str] = set()

    def __call__(self, name: str, value: Any, column: Any, *, of: str) -> Any:
        if not self.named:
            return value
        self.values[name] = value
        self.bound_fields.add(of)
        return bindparam(name, value, type_=column.type)


def sql_shape(request: Any, binds: NamedBinds) -> tuple[Any, ...]:
    """What the SQL of a request compiled with `binds` depends on, built from the request
    dataclass itself: the names of the bound parameters, and the value of every field (of
    nested dataclasses too) except those sent only as bound parameters. A field added to a
    request is part of the key unless it is bound, so a cache keyed by the shape can never
    hand one filter's SQL to another."""

    def unbound(value: Any) -> Any:
        if not dataclasses.is_dataclass(value) or isinstance(value, type):
            return value
        return (type(value).__name__, *(
            (f.name, unbound(getattr(value, f.name)))
            for f in dataclasses.fields(value) if f.name not in binds.bound_fields))

    return tuple(binds.values), unbound(request)


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
