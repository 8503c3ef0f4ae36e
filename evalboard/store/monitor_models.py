"""Monitors: checks, a filter and a sampling rate applied to calls as they arrive."""

from __future__ import annotations
