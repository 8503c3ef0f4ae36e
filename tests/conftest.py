"""Shared fixtures: a fresh store per test (a SQLite file; a PostgreSQL database with
$EVALBOARD_TEST_PG_URL, see tests/pg_server.py), and the clock of the session. Helpers that
tests import live in tests/support/ (calls, marks, stores, AppTest).

`pytest --now 2027-01-01T00:00` (or $EVALBOARD_TEST_NOW) runs the whole session as if it were
then: evalboard.clock is anchored there, in this process and, through $EVALBOARD_NOW, in every
server a test starts. A test whose data has fixed dates anchors its own "now" with
`@pytest.mark.clock(datetime(...))`, so windows such as "the last 7 days" hold on any date.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine

from evalboard import clock
from evalboard.store import open_store
from tests.pg_server import SERVER_ENV
from tests.support.stores import StoreTemplate, fresh_store, store_template

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


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreTemplate]:
    """A store migrated once per session (per xdist worker) that `engine` stores copy."""
    with store_template(os.environ.get(SERVER_ENV), tmp_path_factory.mktemp("template")) as made:
        yield made


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path, monkeypatch) -> Iterator[str]:
    """A store of the test's own, also in $EVALBOARD_DB_URL: a SQLite file, or with
    $EVALBOARD_TEST_PG_URL (a PostgreSQL server URL) a database on that server, dropped after.

    A test that asks for db_url alone gets a new, empty store (for tests of what migrating or
    connecting to a new store does); a test that also uses `engine` gets a copy of the migrated
    template, the same store as a freshly migrated one, without migrating it again.
    """
    template = (request.getfixturevalue("migrated_template")
                if "engine" in request.fixturenames else None)
    with fresh_store(os.environ.get(SERVER_ENV), tmp_path, template) as url:
        monkeypatch.setenv("EVALBOARD_DB_URL", url)
        yield url


@pytest.fixture
def engine(db_url) -> Iterator[Engine]:
    """The test's store, migrated to head."""
    engine = open_store(db_url)
    yield engine
    engine.dispose()


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
