"""Pairwise review: two model versions' outputs for the same input, judged side by side."""
