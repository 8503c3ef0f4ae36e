"""The demo store: realistic calls, reviews, a suite and runs for a first look."""
