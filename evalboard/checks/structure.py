"""Structure checks: the output is JSON (optionally matching a schema or a JSONPath), Python,
SQL or XML. Nothing in the output is ever executed, fetched or entity-expanded."""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any
from xml.etree import ElementTree
from xml.etree.ElementTree import Element, ParseError

import referencing
import referencing.exceptions
import referencing.jsonschema
import sqlglot
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext import parse as parse_jsonpath
from jsonschema import validators
from jsonschema.exceptions import SchemaError, best_match
from jsonschema_specifications import REGISTRY as METASCHEMAS
from sqlglot import exp

from evalboard.checks.base import CheckContext, CheckError, CheckOutcome, Param, register
from evalboard.checks.support import (
    clip,
    clip_list,
    json_equal,
    parse_json,
    plural,
    shorten,
    verdict,
)

try:  # defusedxml refuses DTDs and entities outright; without it, see parse_xml
    from defusedxml.ElementTree import fromstring as defused_fromstring
except ImportError:  # pragma: no cover - defusedxml is installed where evalboard runs
    defused_fromstring = None

CATEGORY = "structure"

# ---------------------------------------------------------------- JSON and JSON schema


_REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")


def _references(resource: referencing.Resource[Any], resolver: referencing.Resolver[Any]
                ) -> Any:
    """(ref, resolver in its scope) for every reference of a schema and its subschemas (as
    the schema's dialect defines them, so `enum` or `const` values are not read as schemas)."""
    resolver = resolver.in_subresource(resource)
    contents = resource.contents
    if isinstance(contents, Mapping):
        for keyword in _REF_KEYWORDS:
            if isinstance(contents.get(keyword), str):
                yield contents[keyword], resolver
    for subresource in resource.subresources():
        yield from _references(subresource, resolver)


def _check_references(schema: Mapping[str, Any], cls: Any) -> None:
    """CheckError unless every $ref resolves inside the schema (or to a bundled metaschema):
    nothing is ever downloaded, so a remote $ref could never be followed."""
    dialect = referencing.jsonschema.specification_with(cls.META_SCHEMA["$schema"])
    resource = dialect.create_resource(schema)
    base = resource.id() or ""
    registry = METASCHEMAS.combine(referencing.Registry().with_resource(base, resource)).crawl()
    for ref, resolver in _references(resource, registry.resolver(base)):
        try:
            resolver.lookup(ref)
        except referencing.exceptions.Unresolvable:
            if ref.startswith("#"):
                raise CheckError("params.schema", f"the $ref {clip(ref)} points to nothing in "
                                 "the schema") from None
            raise CheckError("params.schema", f"the $ref {clip(ref)} points outside the "
                             "schema, and remote schemas are never fetched: copy that "
                             "schema under $defs and refer to it as '#/$defs/NAME'") from None


@lru_cache(maxsize=128)
def _validator_for(schema_key: str) -> Any:
    schema = json.loads(schema_key)
    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "the top level"
        raise CheckError("params.schema", f"invalid JSON schema at {where}: "
                         f"{shorten(exc.message)}") from None
    _check_references(schema, cls)
    # An empty registry: a $ref to a remote schema fails instead of being downloaded.
    return cls(schema, registry=referencing.Registry(), format_checker=cls.FORMAT_CHECKER)


def schema_validator(schema: Mapping[str, Any]) -> Any:
    """A jsonschema validator for `schema`, checked as a schema (check_schema) and for
    references that would need the network; CheckError naming params.schema otherwise."""
    try:
        key = json.dumps(schema, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise CheckError("params.schema", f"the schema is not plain JSON data: {exc}") from None
    return _validator_for(key)


def validate_schema_param(params: Mapping[str, Any]) -> None:
    """Save-time hook of the checks taking an optional or required `schema`."""
    if params.get("schema") is not None:
        schema_validator(params["schema"])


def schema_problem(value: Any, schema: Mapping[str, Any]) -> str | None:
    """Why `value` does not match `schema` (where and what), or None when it does."""
    try:
        error = best_match(schema_validator(schema).iter_errors(value))
    except referencing.exceptions.Unresolvable as exc:
        ref = getattr(exc, "ref", None) or str(exc)
        raise CheckError("params.schema", f"cannot resolve $ref {clip(ref)} (remote schemas "
                         "are never fetched)") from None
    return None if error is None else f"at {error.json_path}: {shorten(error.message)}"


def _schema_outcome(value: Any, schema: Mapping[str, Any]) -> CheckOutcome:
    problem = schema_problem(value, schema)
    if problem is None:
        return verdict(True, "output is JSON matching the schema")
    return verdict(False, f"JSON does not match the schema {problem}")


def json_kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


@register("is_json", category=CATEGORY, validate=validate_schema_param, params={
    "schema": Param("dict", doc="optional JSON schema the parsed output must match"),
})
def is_json(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The whole output is valid JSON, optionally matching a schema (promptfoo is-json)."""
    value, problem = parse_json(output)
    if problem:
        return verdict(False, f"output is not valid JSON: {problem}")
    if params.get("schema") is None:
        return verdict(True, f"output is valid JSON ({json_kind(value)})")
    return _schema_outcome(value, params["schema"])


@register("json_schema", category=CATEGORY, validate=validate_schema_param, params={
    "schema": Param("dict", required=True, doc="the JSON schema the parsed output must match"),
})
def json_schema(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The output is JSON matching a JSON schema; an invalid schema is an error, not a fail."""
    value, problem = parse_json(output)
    if problem:
        return verdict(False, f"output is not valid JSON: {problem}")
    return _schema_outcome(value, params["schema"])


# ---------------------------------------------------------------- JSONPath


@lru_cache(maxsize=256)
def _jsonpath(path: str) -> Any:
    try:
        return parse_jsonpath(path)
    except (JSONPathError, ValueError, TypeError) as exc:
        raise CheckError("params.path", f"invalid JSONPath {clip(path)}: {exc}") from None


def _contains(found: Any, expected: Any) -> bool:
    if isinstance(found, str):
        return isinstance(expected, str) and expected in found
    if isinstance(found, list):
        return any(json_equal(item, expected) for item in found)
    if isinstance(found, dict):
        return isinstance(expected, str) and expected in found
    return False


def _validate_path(params: Mapping[str, Any]) -> None:
    _jsonpath(params["path"])


@register("json_path", category=CATEGORY, validate=_validate_path, params={
    "path": Param("str", required=True, doc="a JSONPath, e.g. $.items[0].name (jsonpath-ng "
                  "extended syntax, filters allowed)"),
    "equals": Param("any", doc="the value found must equal this (several matches: the list)"),
    "contains": Param("any", doc="the value found must contain this: a substring of a string, "
                      "an element of an array, a key of an object"),
})
def json_path(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The output is JSON and the value at a JSONPath exists (and equals/contains a value)."""
    path = params["path"]
    compiled = _jsonpath(path)
    value, problem = parse_json(output)
    if problem:
        return verdict(False, f"output is not valid JSON: {problem}")
    matches = [m.value for m in compiled.find(value)]
    if not matches:
        return verdict(False, f"nothing found at {clip(path)}")
    found = matches[0] if len(matches) == 1 else matches
    if "equals" in params and not json_equal(found, params["equals"]):
        return verdict(False, f"{clip(path)} is {clip(found)}, expected {clip(params['equals'])}")
    if "contains" in params and not _contains(found, params["contains"]):
        return verdict(False, f"{clip(path)} is {clip(found)}, which does not contain "
                              f"{clip(params['contains'])}")
    return verdict(True, f"{clip(path)} is {clip(found)}")


# ---------------------------------------------------------------- Python


@register("is_valid_python", category=CATEGORY)
def is_valid_python(output: str, params: Mapping[str, Any],
                    context: CheckContext) -> CheckOutcome:
    """The output parses as Python source (ast.parse only: the code is never run)."""
    if not output.strip():
        return verdict(False, "output is empty; expected Python source")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. SyntaxWarning for "\d" in a string
            ast.parse(output)
    except SyntaxError as exc:
        return verdict(False, f"not valid Python: {exc.msg} (line {exc.lineno})")
    except (ValueError, RecursionError, MemoryError) as exc:
        return verdict(False, f"not valid Python: {type(exc).__name__}: {shorten(str(exc))}")
    return verdict(True, f"output parses as Python ({plural(output.count(chr(10)) + 1, 'line')})")


# ---------------------------------------------------------------- SQL

_STATEMENTS = tuple(getattr(exp, name) for name in (
    "Query", "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Command",
    "Grant", "Pragma", "Transaction", "Commit", "Rollback", "Use", "Set", "Describe", "Copy",
) if hasattr(exp, name))


def _statement_problem(statement: exp.Expression | None) -> str | None:
    if statement is None:
        return "an empty statement"
    if not isinstance(statement, _STATEMENTS):
        return f"found a bare expression ({clip(statement.sql(), 40)}), not a statement"
    if isinstance(statement, exp.Select) and not statement.expressions:
        return "SELECT without columns"
    return None


def _tables(statement: exp.Expression) -> list[str]:
    """Names of the tables a statement uses (CTE names excluded), as written."""
    ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
    names = [".".join(part.name for part in table.parts) for table in statement.find_all(exp.Table)]
    return [name for name in names if name and name.lower() not in ctes]


def _forbidden_tables(statements: Sequence[exp.Expression], allowed: Sequence[str]) -> list[str]:
    allow = {name.lower() for name in allowed}
    used = [name for s in statements for name in _tables(s)]
    return sorted({n for n in used if n.lower() not in allow
                   and n.rsplit(".", 1)[-1].lower() not in allow})


def _validate_sql(params: Mapping[str, Any]) -> None:
    if params.get("dialect") is not None:
        try:
            sqlglot.Dialect.get_or_raise(params["dialect"])
        except ValueError as exc:
            raise CheckError("params.dialect", str(exc)) from None


@register("is_sql", category=CATEGORY, validate=_validate_sql, params={
    "dialect": Param("str", doc="sqlglot dialect to parse with, e.g. postgres, sqlite, mysql"),
    "tables": Param("list[str]", doc="allow-list of table names; any other table fails"),
    "max_chars": Param("int", default=100_000, above=0, doc="longer outputs are an error "
                       "(parsing 1 MB takes seconds)"),
})
def is_sql(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The output is one or more valid SQL statements (sqlglot; promptfoo is-sql), optionally
    using only allowed tables."""
    if not output.strip():
        return verdict(False, "output is empty; expected SQL")
    if len(output) > params["max_chars"]:
        raise CheckError("params.max_chars", f"output has {len(output):,} characters; is_sql "
                         f"parses at most {params['max_chars']:,}")
    try:
        statements = sqlglot.parse(output, read=params.get("dialect"))
    except sqlglot.errors.ParseError as exc:
        return verdict(False, f"not valid SQL: {shorten(str(exc).splitlines()[0])}")
    problems = [p for p in map(_statement_problem, statements) if p]
    if problems:
        return verdict(False, f"not valid SQL: {problems[0]}")
    if params.get("tables") is not None:
        if any(isinstance(s, exp.Command) for s in statements):
            return verdict(False, "cannot check the tables of a statement sqlglot does not parse")
        forbidden = _forbidden_tables(statements, params["tables"])
        if forbidden:
            return verdict(False, f"SQL uses tables outside the allow-list: {clip_list(forbidden)}")
    return verdict(True, f"output is valid SQL ({plural(len(statements), 'statement')})")


# ---------------------------------------------------------------- XML


_REFUSED_XML = {"DTDForbidden": "a DTD (<!DOCTYPE ...>)",
                "EntitiesForbidden": "an entity declaration",
                "ExternalReferenceForbidden": "an external reference"}


def parse_xml(text: str) -> Element:
    """Parse XML without ever resolving entities or loading a DTD."""
    if defused_fromstring is not None:
        return defused_fromstring(text, forbid_dtd=True)
    if "<!doctype" in text.lower():  # no DTD, so no entity can be declared
        raise ValueError("a DTD (<!DOCTYPE ...>)")
    return ElementTree.fromstring(text)


def missing_element(root: Element, dotted: str) -> bool:
    """True when the dotted element path (from `root`, e.g. analysis.classification) is not
    in the tree."""
    first, *rest = dotted.split(".")
    if root.tag != first:
        return True
    nodes = [root]
    for tag in rest:
        nodes = [child for node in nodes for child in node if child.tag == tag]
    return not nodes


_XML_NAME = re.compile(r"[^\W\d][\w:-]*")  # an element name: no dots, those separate names


def validate_element_paths(params: Mapping[str, Any]) -> None:
    """Save-time hook: every required element path is a dotted list of element names."""
    for path in params.get("required_elements") or ():
        if not all(_XML_NAME.fullmatch(part) for part in path.split(".")):
            raise CheckError("params.required_elements", f"{clip(path)} is not a dotted path "
                             "of element names, e.g. analysis.classification")


REQUIRED_ELEMENTS = Param("list[str]", doc="dotted element paths that must exist, from the "
                          "root, e.g. analysis.classification (promptfoo requiredElements)")


@register("is_xml", category=CATEGORY, validate=validate_element_paths,
          params={"required_elements": REQUIRED_ELEMENTS})
def is_xml(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The whole output is one well-formed XML document (promptfoo is-xml); DTDs and entity
    declarations are refused, never resolved."""
    if not output.strip():
        return verdict(False, "output is empty; expected XML")
    try:
        root = parse_xml(output.strip())
    except ParseError as exc:
        return verdict(False, f"not well-formed XML: {exc}")
    except ValueError as exc:  # defusedxml's DTDForbidden & co. are ValueErrors
        what = _REFUSED_XML.get(type(exc).__name__, shorten(str(exc), 80))
        return verdict(False, f"XML refused: it contains {what} (entities are never resolved)")
    missing = [p for p in params.get("required_elements") or () if missing_element(root, p)]
    if missing:
        return verdict(False, f"XML lacks the elements {clip_list(missing)}")
    return verdict(True, f"output is well-formed XML (root <{clip(root.tag, 30)[1:-1]}>)")
