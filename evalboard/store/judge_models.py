"""Judges (versioned prompt + backend), their cached results, and monitors with cursors."""

from __future__ import annotations
