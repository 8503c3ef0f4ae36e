"""The app under Streamlit's AppTest, opened as a new browser session would open it.

`open_page("review", reviewer="ann", session="1")` runs app.py with those query parameters
(the sign-in gate and the navigation included), switches to the page and runs it again.
`with_accounts(monkeypatch)` turns sign-in on (local accounts); `submit_sign_in` fills in and
submits the sign-in form.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from evalboard.ui.navigation import page_path

APP = str(Path(__file__).resolve().parents[2] / "app.py")  # the checkout's entry


def page_file(page: str) -> str:
    """A page, named as in evalboard/ui/navigation.py ("review") or given by its file, as
    AppTest.switch_page takes it."""
    return page if page.endswith(".py") else page_path(page)


def app_test(*, timeout: float = 30, **params: str) -> AppTest:
    """The app with these query parameters, not run yet."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.query_params.update(params)
    return at


def open_page(page: str | None = None, /, *, timeout: float = 30, reviewer: str | None = None,
              **params: str) -> AppTest:
    """Run the app with these query parameters (`reviewer` names the reviewer, as a link
    would), then switch to `page` and run it; without `page` the app stays on Home. (`page` is
    positional only: Browse has a `page` query parameter too.)"""
    if reviewer is not None:
        params["reviewer"] = reviewer
    at = app_test(timeout=timeout, **params).run()
    if page is not None:
        at.switch_page(page_file(page)).run()
    return at


def with_accounts(monkeypatch: pytest.MonkeyPatch, *, timeout: float = 60) -> AppTest:
    """The app with sign-in on (local accounts, EVALBOARD_AUTH=local), not run yet."""
    monkeypatch.setenv("EVALBOARD_AUTH", "local")
    return app_test(timeout=timeout)


def submit_sign_in(at: AppTest, username: str, password: str) -> AppTest:
    """Fill in and submit the sign-in form the app shows, and run it."""
    fields = {t.label: t for t in at.text_input}
    fields["Username"].input(username)
    fields["Password"].input(password)
    next(b for b in at.button if b.label == "Sign in").click()
    return at.run()
