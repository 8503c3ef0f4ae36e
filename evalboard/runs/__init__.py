"""Eval runs: run a suite against a model version, store every result, compare versions."""
