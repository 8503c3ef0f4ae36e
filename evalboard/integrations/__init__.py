"""Integrations that log calls from model libraries (each imports its library lazily)."""
