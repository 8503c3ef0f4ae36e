"""Pairwise review answers: which of two versions' outputs for one input was better."""

from __future__ import annotations
