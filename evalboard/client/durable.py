"""Durable mode's wiring, shared by the client and the OTLP receiver's `--ack spooled`: replay
the spools dead processes left in a folder, and hook a live spool into a BatchWriter (fsync
before each batch, forget rows once settled)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from evalboard.client.spool import Spool, orphaned_spools
from evalboard.client.writer import BatchWriter, Rows, WriteError
from evalboard.store.ids import IdPool, PrefetchingIdPool
from evalboard.store.writes import write_calls

log = logging.getLogger(__name__)


def replay_spools(engine: Engine, ids: IdPool | PrefetchingIdPool, folder: Path,
                  dead_letter: Path, timeout: float) -> int:
    """Write the calls that spools of dead processes in `folder` hold and did not store (a
    call whose id is stored already is skipped); returns how many calls were replayed. A spool
    not written within `timeout` stays for the next start."""

    def write(rows: Rows) -> None:
        write_calls(engine, rows, ids, skip_stored_ids=True)

    replayed = 0
    for rows, files in orphaned_spools(folder):
        writer = BatchWriter(write, dead_letter=dead_letter, flush_timeout=timeout,
                             abandon=lambda rows: f"they stay in the spool {folder}")
        for row in rows:
            writer.put(row)
        try:
            writer.close()
        except WriteError as exc:
            log.error("evalboard: replaying the spool %s: %s", files[0], exc)
            if writer.pending:
                continue  # not written in time: the spool stays for the next start
        for path in files:
            path.unlink(missing_ok=True)
        if rows:
            replayed += len(rows)
            log.info("evalboard: replayed %d spooled call(s) from %s", len(rows), folder)
    return replayed


def spooled_writer_options(spool: Spool) -> dict[str, Any]:
    """BatchWriter options for rows appended to `spool`: synced before each batch, settled
    after, and kept in the spool (not dead-lettered) when the writer stops waiting."""
    return {
        "before_write": spool.sync,
        "on_done": spool.settled,
        "abandon": lambda rows: f"they are kept in the spool {spool.folder} and written when "
                                "the store is next opened in durable mode",
    }
