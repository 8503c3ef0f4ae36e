"""Helpers shared by test modules (builders of crafted stores)."""
