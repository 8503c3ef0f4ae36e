"""Shared fixtures: a fresh SQLite store file per test (a PostgreSQL database with
$EVALBOARD_TEST_PG_URL, see tests/pg_server.py), and the clock of the session.

`pytest --now 2027-01-01T00:00` (or $EVALBOARD_TEST_NOW) runs the whole session as if it were
then: evalboard.clock is anchored there, in this process and, through $EVALBOARD_NOW, in every
server a test starts. A test whose data has fixed dates anchors its own "now" with
`@pytest.mark.clock(datetime(...))`, so windows such as "the last 7 days" hold on any date.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from evalboard import clock
from evalboard.store import open_store
from evalboard.store.ids import IdPool
from evalboard.store.records import normalize_call
from evalboard.store.writes import WriteSummary, write_calls
from tests.pg_server import SERVER_ENV, fresh_database

T0 = datetime(2026, 11, 1, 9, 0, 0)


# Tests of SQLite specifics (PRAGMAs, EXPLAIN QUERY PLAN, raw SQL with ? placeholders) skip when
# the suite runs against PostgreSQL.
sqlite_only = pytest.mark.skipif(bool(os.environ.get("EVALBOARD_TEST_PG_URL")),
                                 reason="checks a SQLite specific")


TEST_NOW_ENV = "EVALBOARD_TEST_NOW"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--now", default=os.environ.get(TEST_NOW_ENV) or None, metavar="ISO",
                     help="run the session as if it were then (ISO 8601, UTC when no zone; "
                          f"default ${TEST_NOW_ENV}); servers the tests start follow it")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "clock(at): evalboard.clock reads `at` (a datetime or "
                                       "ISO 8601 text) during the test, servers it starts too")
    text = config.getoption("--now")
    if text:  # before xdist starts its workers, so they and their servers inherit it
        try:
            os.environ[clock.NOW_ENV] = clock.parse_now(text).isoformat()
        except ValueError:
            raise pytest.UsageError(f"--now / ${TEST_NOW_ENV}: not an ISO 8601 date or time: "
                                    f"{text!r}") from None


def pytest_report_header(config: pytest.Config) -> str:
    return f"evalboard clock: {os.environ.get(clock.NOW_ENV) or 'the wall clock'}"


def _mark_time(value: datetime | str) -> datetime:
    """A `clock` mark's argument as naive UTC."""
    return clock.parse_now(value) if isinstance(value, str) else clock.to_naive_utc(value)


@pytest.fixture(autouse=True)
def _clock_mark(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
                ) -> Iterator[None]:
    """Anchor the clock of a test marked `clock(at)` (and of the servers it starts)."""
    mark = request.node.get_closest_marker("clock")
    if mark is None:
        yield
        return
    at = _mark_time(mark.args[0])
    monkeypatch.setenv(clock.NOW_ENV, at.isoformat())
    with clock.fixed(at):
        yield


@pytest.fixture
def db_url(tmp_path, monkeypatch) -> Iterator[str]:
    """A fresh store per test: a SQLite file, or with $EVALBOARD_TEST_PG_URL (a PostgreSQL
    server URL) a new database on that server, dropped afterwards."""
    server = os.environ.get(SERVER_ENV)
    if not server:
        url = f"sqlite:///{tmp_path / 'evalboard.db'}"
        monkeypatch.setenv("EVALBOARD_DB_URL", url)
        yield url
        return
    with fresh_database(server) as url:
        monkeypatch.setenv("EVALBOARD_DB_URL", url)
        yield url


@pytest.fixture
def engine(db_url) -> Iterator[Engine]:
    engine = open_store(db_url)
    yield engine
    engine.dispose()


def add_calls(engine: Engine, rows: list[dict[str, Any]]) -> WriteSummary:
    """Write call fields (as `log_call` takes them) straight to the store."""
    normalized = [normalize_call(**{"input": "", **row}) for row in rows]
    return write_calls(engine, normalized, IdPool(engine))


def make_rows(count: int, start: datetime = T0, step: timedelta = timedelta(minutes=1),
              **fields: Any) -> list[dict[str, Any]]:
    """`count` distinct calls, one per `step`, oldest first."""
    return [
        {"input": f"prompt number {i}", "output": f"answer number {i}",
         "created_at": start + i * step, **fields}
        for i in range(count)
    ]


@pytest.fixture
def browser_page():
    """A page of Debian's Chromium driven by Playwright (for tests marked `browser`)."""
    from tests.support.app_server import CHROMIUM, CHROMIUM_ARGS

    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield page
        browser.close()
