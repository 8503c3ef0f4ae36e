"""Access control: off for a local single-user setup; local accounts or an identity provider.

EVALBOARD_AUTH selects the mode: "off" (default), "local" (usernames and scrypt-hashed
passwords in the store: `evalboard users add`), or "oidc" (Streamlit's st.login with the
provider configured in .streamlit/secrets.toml; roles come from the users table by e-mail,
else EVALBOARD_OIDC_DEFAULT_ROLE, default "viewer").
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evalboard.errors import EvalboardError
from evalboard.store.engine import write_session
from evalboard.store.user_models import ROLES, User

AUTH_ENV, DEFAULT_ROLE_ENV = "EVALBOARD_AUTH", "EVALBOARD_OIDC_DEFAULT_ROLE"
MODES = ("off", "local", "oidc")
RANK = {role: rank for rank, role in enumerate(ROLES)}
# What each role may do: viewer reads; reviewer also annotates, edits cases, starts runs;
# admin also changes settings and labels, and deletes. Adjudicating (recording the final answer
# where reviewers disagree) is an admin's, or a reviewer's given the right.
PERMISSIONS = {"read": "viewer", "review": "reviewer", "edit_cases": "reviewer",
               "run": "reviewer", "adjudicate": "admin", "admin": "admin"}
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class AccessError(EvalboardError, ValueError):
    """An account change that cannot be made; the message says why."""


@dataclass(frozen=True)
class Identity:
    username: str
    role: str
    can_adjudicate: bool = False

    def may(self, permission: str) -> bool:
        if permission == "adjudicate" and self.can_adjudicate:
            return RANK[self.role] >= RANK["reviewer"]
        return RANK[self.role] >= RANK[PERMISSIONS[permission]]


def auth_mode() -> str:
    mode = (os.environ.get(AUTH_ENV) or "off").strip().lower()
    if mode not in MODES:
        raise AccessError(f"{AUTH_ENV} must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


@cache
def _stand_in_hash() -> str:
    """A hash no password matches, verified when an account has none to check, so a wrong
    password takes as long for an unknown or disabled name as for a real one."""
    return hash_password(secrets.token_hex(16))


def verify_password(password: str, stored: str | None) -> bool:
    try:
        scheme, salt, digest = (stored or "").split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(candidate.hex(), digest)


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AccessError(f"a role is one of {', '.join(ROLES)}, not {role!r}")
    return role


def add_user(engine: Engine, username: str, password: str | None, role: str,
             can_adjudicate: bool | None = None) -> None:
    """Create or update an account; without a password it is an identity-provider user.
    `can_adjudicate` (None: unchanged) lets a reviewer record final answers."""
    name = username.strip()
    if not name:
        raise AccessError("a user needs a name")
    if password is not None and len(password) < 8:
        raise AccessError("a password has at least 8 characters")
    with write_session(engine) as session:
        user = session.scalar(select(User).where(User.username == name))
        if user is None:
            user = User(username=name)
            session.add(user)
        user.role, user.disabled = _check_role(role), False
        if password is not None:
            user.password_hash = hash_password(password)
        if can_adjudicate is not None:
            user.can_adjudicate = can_adjudicate


def disable_user(engine: Engine, username: str) -> bool:
    with write_session(engine) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            return False
        user.disabled = True
        return True


def list_users(engine: Engine) -> list[tuple[str, str, bool]]:
    """(username, role, disabled) by name."""
    with Session(engine) as session:
        return [(u.username, u.role, u.disabled)
                for u in session.scalars(select(User).order_by(User.username))]


def authenticate(engine: Engine, username: str, password: str) -> Identity | None:
    """The identity of a local account whose password matches, else None.

    Takes the same time whether the name exists or not: a missing, disabled or password-less
    account still costs one scrypt verification (against a stand-in hash)."""
    with Session(engine) as session:
        user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or user.disabled or user.password_hash is None:
        verify_password(password, _stand_in_hash())
        return None
    if not verify_password(password, user.password_hash):
        return None
    return Identity(user.username, user.role, user.can_adjudicate)


def account_identity(engine: Engine, username: str) -> Identity | None:
    """The account as the store has it now (None when it is gone or disabled): the gate reads
    it on every run, so disabling an account or changing its role reaches open sessions."""
    with Session(engine) as session:
        row = session.execute(select(User.role, User.disabled, User.can_adjudicate)
                              .where(User.username == username)).first()
    if row is None or row.disabled:
        return None
    return Identity(username, row.role, row.can_adjudicate)


def provider_identity(engine: Engine, email: str) -> Identity | None:
    """The role of an identity-provider user: from the users table, else the default role."""
    with Session(engine) as session:
        user = session.scalar(select(User).where(User.username == email))
    if user is not None:
        return None if user.disabled else Identity(email, user.role, user.can_adjudicate)
    return Identity(email, _check_role(os.environ.get(DEFAULT_ROLE_ENV) or "viewer"))
