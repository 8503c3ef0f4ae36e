"""Embeddings of calls and the calls most like one another."""
