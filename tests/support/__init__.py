"""Helpers that test modules import (tests/conftest.py holds fixtures only): calls (T0,
add_calls, make_rows), marks (sqlite_only), stores (new stores and migrated templates), apptest
(the app under AppTest), app_server (the app served for browser tests), metric_stores, and
query_plans."""
