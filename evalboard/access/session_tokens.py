"""Signed, expiring sign-in tokens: what the session cookie holds so a reload keeps a person
signed in.

A token names the account, its expiry and a fingerprint of the account's password hash, and is
signed with HMAC-SHA256 under a key kept in the store (`settings`, created on first use). It
stops working when it expires, when the account is disabled or removed, and when its password
changes. Times come from `evalboard.clock`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evalboard import clock
from evalboard.access.permissions import Identity
from evalboard.review.guidelines import get_setting
from evalboard.store.engine import write_session
from evalboard.store.review_models import Setting
from evalboard.store.user_models import User

SIGNING_KEY_SETTING = "session_signing_key"
SESSION_LIFETIME = timedelta(hours=8)
MAX_TOKEN_LENGTH = 1024
_EPOCH = datetime(1970, 1, 1)


def signing_key(engine: Engine) -> bytes:
    """The store's token signing key, created (once, by whoever comes first) when missing."""
    stored = get_setting(engine, SIGNING_KEY_SETTING)
    if not stored:
        try:
            with write_session(engine) as session:
                session.add(Setting(key=SIGNING_KEY_SETTING, value=secrets.token_hex(32)))
        except IntegrityError:  # another process created it first
            pass
        stored = get_setting(engine, SIGNING_KEY_SETTING)
    return bytes.fromhex(str(stored))


def _sign(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def _fingerprint(key: bytes, password_hash: str | None) -> str:
    return _sign(key, f"password:{password_hash or ''}")[:32]


def _seconds(at: datetime) -> int:
    return int((at - _EPOCH).total_seconds())


def _account(engine: Engine, username: str) -> User | None:
    with Session(engine) as session:
        return session.scalar(select(User).where(User.username == username))


def issue_token(engine: Engine, key: bytes, username: str,
                lifetime: timedelta = SESSION_LIFETIME) -> str:
    """A token for a signed-in account, valid for `lifetime`."""
    user = _account(engine, username)
    if user is None:
        raise ValueError(f"no user named {username!r}")
    body = {"u": username, "e": _seconds(clock.now() + lifetime),
            "f": _fingerprint(key, user.password_hash)}
    payload = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
    return f"{payload}.{_sign(key, payload)}"


def token_identity(engine: Engine, key: bytes, token: str | None) -> Identity | None:
    """Who a token signs in, or None when it is forged, expired, or its account is disabled,
    gone or has a new password."""
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        return None
    payload, signature = token.split(".")
    if not hmac.compare_digest(_sign(key, payload), signature):
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        username, expires, fingerprint = str(body["u"]), int(body["e"]), str(body["f"])
    except (ValueError, KeyError, TypeError):
        return None
    if expires <= _seconds(clock.now()):
        return None
    user = _account(engine, username)
    if user is None or user.disabled:
        return None
    if not hmac.compare_digest(_fingerprint(key, user.password_hash), fingerprint):
        return None
    return Identity(user.username, user.role, user.can_adjudicate)
