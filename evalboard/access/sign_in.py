"""Signing in with a local account: password check behind a limiter of failed attempts.

Failures are counted per account and per client address inside one server process (shared by
every browser session of that server, kept across reruns). The first few failures cost
nothing; after them every attempt waits twice as long as the one before, up to a cap, until
the key has been quiet for a while. A
name that does not exist is counted like one that does, so the limiter tells nobody which
names exist. Times come from `evalboard.clock`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from evalboard import clock
from evalboard.access.permissions import Identity, authenticate


@dataclass(frozen=True)
class LimitPolicy:
    """The first `free_failures` cost nothing; each further one makes the next attempt wait
    `first_wait`, doubling, at most `max_wait`. The count starts again only after `quiet`
    without a failure (longer than `max_wait`, so steady guessing never earns free tries)."""

    free_failures: int
    quiet: timedelta
    first_wait: timedelta
    max_wait: timedelta

    def wait_after(self, failures: int) -> timedelta:
        if failures < self.free_failures:
            return timedelta(0)
        doublings = min(failures - self.free_failures, 30)
        return min(self.max_wait, self.first_wait * 2**doublings)


ACCOUNT_POLICY = LimitPolicy(5, timedelta(hours=1), timedelta(seconds=1),
                             timedelta(minutes=15))
CLIENT_POLICY = LimitPolicy(20, timedelta(hours=1), timedelta(seconds=1),
                            timedelta(minutes=15))
MAX_TRACKED_KEYS = 20_000


@dataclass
class _Failures:
    count: int
    last: datetime


class SignInLimiter:
    """Thread-safe counters of recent failed sign-ins, keyed by account and by client."""

    def __init__(self, account: LimitPolicy = ACCOUNT_POLICY,
                 client: LimitPolicy = CLIENT_POLICY, max_keys: int = MAX_TRACKED_KEYS) -> None:
        self._policies = {"account": account, "client": client}
        self._failures: dict[tuple[str, str], _Failures] = {}
        self._max_keys = max_keys
        self._lock = threading.Lock()

    def _keys(self, username: str, client: str | None) -> list[tuple[str, str]]:
        keys = [("account", username.strip().casefold())]
        if client:
            keys.append(("client", client))
        return keys

    def _current(self, key: tuple[str, str], now: datetime) -> _Failures | None:
        failures = self._failures.get(key)
        if failures is not None and now - failures.last >= self._policies[key[0]].quiet:
            del self._failures[key]
            return None
        return failures

    def retry_after(self, username: str, client: str | None) -> float:
        """Seconds until the next attempt for this account from this client may be checked
        (0: now)."""
        now = clock.now()
        with self._lock:
            waits = [0.0]
            for key in self._keys(username, client):
                failures = self._current(key, now)
                if failures is not None:
                    allowed = failures.last + self._policies[key[0]].wait_after(failures.count)
                    waits.append((allowed - now).total_seconds())
            return max(waits)

    def record_failure(self, username: str, client: str | None) -> None:
        now = clock.now()
        with self._lock:
            if len(self._failures) >= self._max_keys:
                self._forget_quiet(now)
            for key in self._keys(username, client):
                failures = self._current(key, now)
                count = failures.count + 1 if failures is not None else 1
                self._failures[key] = _Failures(count, now)

    def record_success(self, username: str, client: str | None) -> None:
        """A right password clears the account's failures (the client's still count)."""
        with self._lock:
            self._failures.pop(self._keys(username, client)[0], None)

    def _forget_quiet(self, now: datetime) -> None:
        for key in list(self._failures):
            self._current(key, now)
        while len(self._failures) >= self._max_keys:  # the oldest goes first
            self._failures.pop(next(iter(self._failures)))


@dataclass(frozen=True)
class SignInResult:
    identity: Identity | None
    retry_after: float = 0.0  # > 0: refused unchecked, try again in this many seconds


def sign_in(engine: Engine, limiter: SignInLimiter, username: str, password: str,
            client: str | None) -> SignInResult:
    """Check a password unless this account or client must wait; count the outcome."""
    wait = limiter.retry_after(username, client)
    if wait > 0:
        return SignInResult(None, wait)
    identity = authenticate(engine, username, password)
    if identity is None:
        limiter.record_failure(username, client)
    else:
        limiter.record_success(username, client)
    return SignInResult(identity)
