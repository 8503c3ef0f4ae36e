"""Optional access control: hashed local accounts, roles, the sign-in gate, the CLI."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from evalboard.access.permissions import (
    AccessError,
    Identity,
    add_user,
    authenticate,
    disable_user,
    hash_password,
    list_users,
    provider_identity,
    verify_password,
)
from evalboard.review.annotations import current_judgement
from evalboard.ui.navigation import page_path
from tests.support.apptest import submit_sign_in, with_accounts
from tests.support.calls import add_calls
from tests.test_review_page import Page, feed


def test_passwords_are_salted_scrypt_hashes():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second and first.startswith("scrypt$") and "correct" not in first
    assert verify_password("correct horse", first)
    assert not verify_password("wrong horse", first)
    assert not verify_password("x", None) and not verify_password("x", "md5$a$b")


def test_accounts_roles_and_disabling(engine, monkeypatch):
    add_user(engine, "ann", "long enough", "reviewer")
    assert authenticate(engine, "ann", "long enough") == Identity("ann", "reviewer")
    assert authenticate(engine, "ann", "wrong password") is None
    assert authenticate(engine, "nobody", "long enough") is None
    for bad in (lambda: add_user(engine, "bob", "short", "viewer"),
                lambda: add_user(engine, "bob", "long enough", "owner"),
                lambda: add_user(engine, "  ", "long enough", "viewer")):
        with pytest.raises(AccessError):
            bad()
    assert disable_user(engine, "ann") and authenticate(engine, "ann", "long enough") is None
    assert list_users(engine) == [("ann", "reviewer", True)]
    viewer = Identity("v", "viewer")
    assert viewer.may("read") and not viewer.may("review") and not viewer.may("admin")
    assert Identity("a", "admin").may("admin")
    monkeypatch.setenv("EVALBOARD_OIDC_DEFAULT_ROLE", "reviewer")
    assert provider_identity(engine, "new@example.com") == Identity("new@example.com",
                                                                    "reviewer")


def test_nothing_is_reachable_without_signing_in(engine, monkeypatch):
    add_calls(engine, [{"input": "secret prompt", "output": "secret answer"}])
    at = with_accounts(monkeypatch).run()
    assert at.title[0].value == "Sign in to evalboard"
    shown = " ".join(str(e.value) for e in [*at.markdown, *at.caption])
    assert "secret" not in shown and not at.dataframe
    add_user(engine, "ann", "long enough", "reviewer")
    at = submit_sign_in(with_accounts(monkeypatch).run(), "ann", "not it")
    assert any("Wrong username or password" in e.value for e in at.error)


def test_roles_decide_what_a_person_may_do(engine, monkeypatch):
    [call_id] = add_calls(engine, [{"input": "q", "output": "a"}]).ids
    add_user(engine, "vera", "long enough", "viewer")
    add_user(engine, "ann", "long enough", "reviewer")
    at = submit_sign_in(with_accounts(monkeypatch).run(), "vera", "long enough")
    assert not at.exception and at.title[0].value == "evalboard"
    at.switch_page(page_path("review")).run()
    assert any("cannot review calls" in w.value for w in at.warning)
    at.switch_page(page_path("browse")).run()
    assert not [t for t in at.toggle if t.label == "Bulk label"]
    at.switch_page(page_path("settings")).run()
    assert any("cannot change labels" in w.value for w in at.warning)

    at = submit_sign_in(with_accounts(monkeypatch).run(), "ann", "long enough")
    at.switch_page(page_path("browse")).run()
    at.query_params["bulk"] = "true"
    at.run()
    assert [t for t in at.toggle if t.label == "Bulk label"]
    at.switch_page(page_path("review")).run()
    assert not at.warning or all("cannot" not in w.value for w in at.warning)
    assert any("Start a review session" in s.value for s in at.subheader)
    next(b for b in at.button if b.label == "Start reviewing").click().run()
    # the focus view is a browser component: send its answer as the page would
    Page(at, session_id=feed(at)["session"]["id"]).judge(0, "pass")
    assert current_judgement(engine, call_id, "ann").verdict == "pass"  # stamped with the login


def test_users_cli(db_url):
    evalboard = shutil.which("evalboard")
    done = subprocess.run([evalboard, "users", "add", "ann", "--role", "admin",
                           "--password-stdin", "--db", db_url], input="long enough\n",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    listed = subprocess.run([evalboard, "users", "list", "--db", db_url], capture_output=True,
                            text=True, timeout=60)
    assert listed.stdout.split() == ["ann", "admin"]
    bad = subprocess.run([evalboard, "users", "add", "bob", "--role", "boss",
                          "--password-stdin", "--db", db_url], input="long enough\n",
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("error:")
