"""Team review queues: items, reservations, adjudications, comments, score configurations."""

from __future__ import annotations
