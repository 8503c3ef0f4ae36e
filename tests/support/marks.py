"""Marks that choose where a test runs."""

from __future__ import annotations

import os

import pytest

from tests.pg_server import SERVER_ENV

# Tests of SQLite specifics (PRAGMAs, EXPLAIN QUERY PLAN, raw SQL with ? placeholders) skip when
# the suite runs against PostgreSQL.
sqlite_only = pytest.mark.skipif(bool(os.environ.get(SERVER_ENV)),
                                 reason="checks a SQLite specific")
