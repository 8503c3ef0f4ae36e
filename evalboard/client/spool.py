"""Durable mode's spool: every accepted call is appended to a local JSONL file before `log_call`
returns, so it survives the process being killed (kill -9); the writer fsyncs the file before
each batch (so a power loss can only take the calls of the last `flush_interval`), and a spool
left behind by a dead process is replayed when the store is next opened in durable mode.

A spool folder holds, per live process, a lock file (`<token>.lock`, flock'ed while the process
lives) and numbered segments (`<token>-<n>.jsonl`, a new one every `segment_rows` calls); a
segment is deleted once every call in it is settled (written or dead-lettered).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

Rows = list[dict[str, Any]]


def encode_row(row: dict[str, Any]) -> bytes:
    """One JSONL line for a normalised call row (its time as ISO 8601 text)."""
    return (json.dumps(row, ensure_ascii=False, allow_nan=False, default=_iso,
                       separators=(",", ":")) + "\n").encode()


def decode_row(line: bytes) -> dict[str, Any]:
    row = json.loads(line)
    row["created_at"] = datetime.fromisoformat(row["created_at"])
    return row


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot spool a {type(value).__name__}")


class Spool:
    """This process's spool in `folder`: `append` before a row is queued, `sync` before a batch
    is written, `settled` after; `close` removes the files once nothing is pending."""

    def __init__(self, folder: Path, segment_rows: int = 10_000) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._token = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._lock_file: IO[bytes] = (folder / f"{self._token}.lock").open("wb")
        fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._segment_rows = segment_rows
        self._lock = threading.RLock()  # re-entrant: a signal handler may run inside append
        self._segment = 0
        self._rows_in_segment = 0
        self._fd = self._open_segment(0)
        self._unsynced: list[int] = []  # descriptors of rotated segments not yet fsynced
        self._segment_of: dict[int, int] = {}  # call id -> segment, until settled
        self._outstanding: dict[int, int] = {}  # segment -> calls not yet settled

    def append(self, row: dict[str, Any]) -> None:
        line = encode_row(row)
        with self._lock:
            if self._rows_in_segment >= self._segment_rows:
                self._rotate()
            os.write(self._fd, line)
            self._rows_in_segment += 1
            self._segment_of[row["id"]] = self._segment
            self._outstanding[self._segment] = self._outstanding.get(self._segment, 0) + 1

    def sync(self) -> None:
        """fsync what was appended (called by the writer before it writes a batch)."""
        with self._lock:
            unsynced, self._unsynced = self._unsynced, []
            current = self._fd
        for fd in unsynced:
            os.fsync(fd)
            os.close(fd)
        os.fsync(current)

    def settled(self, rows: Rows) -> None:
        """Forget settled rows; delete the segments (but the current one) they emptied."""
        with self._lock:
            for row in rows:
                segment = self._segment_of.pop(row["id"], None)
                if segment is None:
                    continue
                self._outstanding[segment] -= 1
                if self._outstanding[segment] == 0 and segment != self._segment:
                    del self._outstanding[segment]
                    self._path(segment).unlink(missing_ok=True)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._segment_of)

    def close(self) -> None:
        """Close the files; delete them when every call is settled, else leave them (and
        release the lock) for the next durable start to replay."""
        with self._lock:
            for fd in [*self._unsynced, self._fd]:
                os.fsync(fd)
                os.close(fd)
            self._unsynced = []
            if not self._segment_of:
                for path in self.folder.glob(f"{self._token}-*.jsonl"):
                    path.unlink(missing_ok=True)
                (self.folder / f"{self._token}.lock").unlink(missing_ok=True)
            self._lock_file.close()

    def _rotate(self) -> None:
        self._unsynced.append(self._fd)
        if self._outstanding.get(self._segment) == 0:
            del self._outstanding[self._segment]
            self._path(self._segment).unlink(missing_ok=True)
        self._segment += 1
        self._rows_in_segment = 0
        self._fd = self._open_segment(self._segment)

    def _open_segment(self, number: int) -> int:
        fd = os.open(self._path(number), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        folder = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(folder)  # the new file's name survives a power loss too
        finally:
            os.close(folder)
        return fd

    def _path(self, number: int) -> Path:
        return self.folder / f"{self._token}-{number}.jsonl"


def orphaned_spools(folder: Path) -> Iterator[tuple[Rows, list[Path]]]:
    """For each spool in `folder` whose process is gone: its rows and its files. The spool's
    lock is held while the caller handles it (so two processes never replay the same spool);
    the caller deletes the files once the rows are stored."""
    if not folder.is_dir():
        return
    for lock_path in sorted(folder.glob("*.lock")):
        with lock_path.open("ab") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its process is alive
            token = lock_path.stem
            segments = sorted(folder.glob(f"{token}-*.jsonl"),
                              key=lambda path: int(path.stem.rsplit("-", 1)[1]))
            yield _read_rows(segments), [*segments, lock_path]


def _read_rows(segments: list[Path]) -> Rows:
    rows: Rows = []
    for path in segments:
        for number, line in enumerate(path.read_bytes().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(decode_row(line))
            except (ValueError, KeyError) as exc:  # a line torn by a power loss
                log.warning("evalboard: skipped line %d of %s: %s", number, path, exc)
    return rows
