"""Compile a user's regular expression only when compiling it has a bounded cost.

The `regex` package parses a pattern into a small tree (a repeat is one node, whatever its
count), then its compiler expands every repeat by its minimum count: `a{n}` takes about
270 bytes per repetition, so `a{99999999}` asks for some 27 GB, and nested repeats multiply
(`(?:a{1000}){1000}` is a million items). So before compiling, the pattern is parsed with
regex's own parser and the expanded size is summed: every node counts once per repetition
of the repeats around it. A pattern longer than MAX_PATTERN_CHARS, or expanding to more than
MAX_COMPILED_ITEMS (a few tens of MB at most), is refused with a CheckError naming
params.pattern; so is a JavaScript literal such as `/refund/i`, with the inline-flag spelling.
"""

from __future__ import annotations

import re
from typing import Any

import regex

from evalboard.checks.base import CheckError
from evalboard.checks.support import clip

MAX_PATTERN_CHARS = 10_000
MAX_COMPILED_ITEMS = 50_000
# /body/flags as JavaScript writes a regex literal (d, g, u, v, y have no Python meaning).
_JS_LITERAL = re.compile(r"/(.+)/([dgimsuvy]+)", re.DOTALL)
_CHILD_ATTRIBUTES = ("items", "branches", "subpattern", "yes_item", "no_item")


def _javascript_hint(pattern: str) -> str | None:
    literal = _JS_LITERAL.fullmatch(pattern)
    if literal is None:
        return None
    body, letters = literal.groups()
    inline = "".join(letter for letter in "imsx" if letter in letters)
    spelled = f"(?{inline}){body}" if inline else body
    return (f"{clip(pattern)} is written as a JavaScript regex literal; write the pattern "
            f"without slashes and give flags inline: {clip(spelled)}")


def _parse(pattern: str, flags: int) -> Any:
    """regex's own parse tree of `pattern` (what regex.compile builds before compiling)."""
    from regex import _regex_core as core

    global_flags = flags
    while True:
        source = core.Source(pattern)
        info = core.Info(global_flags, source.char_type, {})
        source.ignore_space = bool(info.flags & regex.VERBOSE)
        try:
            return core._parse_pattern(source, info)
        except core._UnscopedFlagSet:  # a global flag set mid-pattern: parse again with it
            global_flags = info.global_flags


def compiled_items(tree: Any, limit: int) -> int:
    """The expanded size of a parse tree: each node times the minimum counts of the repeats
    around it. Stops counting once past `limit`."""
    total = 0
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack and total <= limit:
        node, times = stack.pop()
        total += times
        inner = times * max(1, int(getattr(node, "min_count", 1) or 1))
        for attribute in _CHILD_ATTRIBUTES:
            child = getattr(node, attribute, None)
            if isinstance(child, list | tuple):
                stack.extend((item, inner) for item in child if item is not None)
            elif child is not None and hasattr(child, "compile"):
                stack.append((child, inner))
    return total


def compile_bounded(pattern: str, flags: int = 0) -> regex.Pattern[str]:
    """regex.compile(pattern, flags), refused with a CheckError (params.pattern) when the
    pattern is invalid, a JavaScript literal, too long, or too costly to compile."""
    hint = _javascript_hint(pattern)
    if hint:
        raise CheckError("params.pattern", hint)
    if len(pattern) > MAX_PATTERN_CHARS:
        raise CheckError("params.pattern", f"the pattern has {len(pattern):,} characters; at "
                         f"most {MAX_PATTERN_CHARS:,}")
    try:
        items = compiled_items(_parse(pattern, flags), MAX_COMPILED_ITEMS)
        if items > MAX_COMPILED_ITEMS:
            raise CheckError("params.pattern", f"{clip(pattern)} repeats too much to compile: "
                             f"its repeat counts expand to over {MAX_COMPILED_ITEMS:,} "
                             "pattern items; lower the counts (e.g. {3} rather than {99999})")
        return regex.compile(pattern, flags, cache_pattern=False)
    except regex.error as exc:
        raise CheckError("params.pattern", f"invalid regex {clip(pattern)}: {exc}") from None
    except (RecursionError, OverflowError, ValueError) as exc:
        if isinstance(exc, CheckError):
            raise
        what = "is nested too deeply" if isinstance(exc, RecursionError) else f"fails: {exc}"
        raise CheckError("params.pattern", f"the regex {clip(pattern)} {what}") from None
