"""Write what logging clients hold when the process stops: at interpreter exit, and on SIGTERM
(how systemd, Docker and Kubernetes stop a service) or SIGINT (Ctrl-C).

The signal handlers are installed once, from the main thread, by the first client that asks
(batch and durable modes). They flush every open client (each waits at most its
`flush_timeout`), then hand the signal on: to the handler installed before (an app's own), or
to Python's default (SIGINT: KeyboardInterrupt; SIGTERM: the process ends by the signal, exit
status 143 in a shell). A signal that was ignored stays ignored. An app that installs its own
handler later replaces this one; interpreter exit still writes what is pending.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import weakref
from types import FrameType
from typing import Any, Protocol

log = logging.getLogger("evalboard.client.connection")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Flushable(Protocol):
    def flush(self) -> None: ...

    def close(self) -> None: ...


_clients: weakref.WeakSet[Any] = weakref.WeakSet()
_previous: dict[int, Any] = {}
_registered = threading.Lock()
_at_exit_registered = False


def watch(client: Flushable, *, signals: bool) -> None:
    """Close `client` at exit; with `signals`, also flush it on SIGTERM/SIGINT (only from the
    main thread: Python runs signal handlers there and only there can install them)."""
    global _at_exit_registered
    with _registered:
        _clients.add(client)
        if not _at_exit_registered:
            atexit.register(_close_all, "at exit")
            _at_exit_registered = True
    if signals and threading.current_thread() is threading.main_thread():
        _install_handlers()


def forget(client: Flushable) -> None:
    _clients.discard(client)


def _install_handlers() -> None:
    for signum in STOP_SIGNALS:
        if signum in _previous:
            continue
        current = signal.getsignal(signum)
        if current is signal.SIG_IGN:
            continue
        _previous[signum] = current
        signal.signal(signum, _on_stop_signal)


def _on_stop_signal(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    previous = _previous.get(signum)
    if callable(previous):  # an app's handler, or Python's KeyboardInterrupt for SIGINT
        _flush_all(f"on {name}")
        previous(signum, frame)
        return
    _close_all(f"on {name}")  # the process ends now: close, as at exit
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _flush_all(when: str) -> None:
    for client in list(_clients):
        _report(when, client.flush)


def _close_all(when: str) -> None:
    for client in list(_clients):
        _report(when, client.close)


def _report(when: str, action: Any) -> None:
    """Run a client's flush or close; say what could not be written instead of raising."""
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - a handler or exit hook must not raise
        log.error("evalboard: %s: %s", when, exc)
