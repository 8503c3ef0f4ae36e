"""Word-level diff of an output against a reference."""

from __future__ import annotations

import difflib
import re
from typing import Literal

Op = Literal["equal", "delete", "insert"]
_TOKENS = re.compile(r"\s+|[^\s]+")


def word_diff(reference: str, output: str) -> list[tuple[Op, str]]:
    """(op, text) pieces turning `reference` into `output`: words removed, added or kept."""
    ref_tokens = _TOKENS.findall(reference)
    out_tokens = _TOKENS.findall(output)
    pieces: list[tuple[Op, str]] = []
    matcher = difflib.SequenceMatcher(a=ref_tokens, b=out_tokens, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pieces.append(("equal", "".join(ref_tokens[i1:i2])))
            continue
        if tag in ("replace", "delete"):
            pieces.append(("delete", "".join(ref_tokens[i1:i2])))
        if tag in ("replace", "insert"):
            pieces.append(("insert", "".join(out_tokens[j1:j2])))
    return pieces
