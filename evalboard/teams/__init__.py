"""Reviewing as a team: queues, reservations, adjudication, comments, scores, audit."""
