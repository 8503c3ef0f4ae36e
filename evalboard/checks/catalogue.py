"""Import every check module once, so the registry is complete."""

from evalboard.checks import text  # noqa: F401
