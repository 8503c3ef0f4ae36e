"""The `evalboard` command."""

from evalboard.cli.main import app, main

__all__ = ["app", "main"]
