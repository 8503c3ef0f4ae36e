"""The app opening a store it cannot use (migrated by a newer evalboard) says so in one line
instead of a traceback, and writes nothing."""

from __future__ import annotations

from sqlalchemy import text

from evalboard.store import open_store
from tests.support.apptest import open_page


def test_a_store_from_a_newer_evalboard_gets_a_message_not_a_traceback(db_url) -> None:
    engine = open_store(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    at = open_page(timeout=60)
    assert not at.exception
    (error,) = at.error
    assert error.value.startswith("evalboard cannot open the store: ")
    assert "9999_future" in error.value and "newest it knows" in error.value
