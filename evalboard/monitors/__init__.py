"""Monitors: checks applied to production calls as they arrive (definitions, the worker,
deterministic sampling, and the failures they find)."""
