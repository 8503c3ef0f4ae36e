"""A word-level diff of two outputs (difflib over words and the whitespace between them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)
MAX_TOKENS = 20_000  # beyond this a diff is unreadable anyway; compare the texts as a whole


@dataclass(frozen=True)
class DiffPiece:
    """A run of text: `equal` on both sides, `delete` only on the left, `insert` only on the
    right."""

    op: str
    text: str


def tokens(text: str) -> list[str]:
    """Words, single punctuation marks and whitespace runs; joined they give `text` back."""
    return _TOKEN.findall(text)


def word_diff(left: str, right: str) -> list[DiffPiece]:
    """The pieces that turn `left` into `right`: a replaced run is a delete then an insert.
    Joining the `equal` and `delete` pieces gives `left`; `equal` and `insert`, `right`."""
    a, b = tokens(left or ""), tokens(right or "")
    if len(a) > MAX_TOKENS or len(b) > MAX_TOKENS:
        same = left == right
        return [DiffPiece("equal", left)] if same else [
            piece for piece in (DiffPiece("delete", left), DiffPiece("insert", right))
            if piece.text]
    pieces: list[DiffPiece] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append(DiffPiece("equal", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            pieces.append(DiffPiece("delete", "".join(a[i1:i2])))
        if j2 > j1:
            pieces.append(DiffPiece("insert", "".join(b[j1:j2])))
    return pieces


def side(pieces: list[DiffPiece], which: str) -> list[DiffPiece]:
    """The pieces shown on one side: `left` (equal + delete) or `right` (equal + insert)."""
    hidden = "insert" if which == "left" else "delete"
    return [piece for piece in pieces if piece.op != hidden]
