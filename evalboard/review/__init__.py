"""Reviewing calls: labels, guidelines, annotations, review sessions."""
