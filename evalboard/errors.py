"""The root of evalboard's user-facing errors.

An `EvalboardError` says in one line what went wrong and what to do; the CLI prints it without a
traceback and the app shows it as a message. Anything else that escapes is a bug and keeps its
traceback.
"""

from __future__ import annotations


class EvalboardError(Exception):
    """A user-facing error: its message is one clear line."""
