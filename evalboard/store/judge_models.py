"""Judges: versioned prompt templates with a backend, and their cached results."""

from __future__ import annotations
