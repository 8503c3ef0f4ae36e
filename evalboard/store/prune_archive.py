"""A prune's archive: every removed row written to Parquet (fsynced) before its batch
commits, and read back."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from evalboard.store.prune_plan import PruneError


class Archive:
    """Parquet files of deleted rows: <folder>/<table>/<stamp>-<n>.parquet (the n-th write of
    that table's rows), fsynced."""

    def __init__(self, folder: Path, stamp: str) -> None:
        try:
            import pyarrow  # noqa: F401
            import pyarrow.parquet  # noqa: F401
        except ImportError as exc:
            raise PruneError("--archive writes Parquet and needs pyarrow: "
                             "pip install pyarrow (nothing was deleted)") from exc
        if folder.exists() and not folder.is_dir():
            raise PruneError(f"the archive folder is a file: {folder}")
        self.folder = folder
        self.stamp = stamp
        self.files: list[Path] = []
        self._written: dict[str, int] = {}

    def write(self, table: str, rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not rows:
            return
        folder = self.folder / table
        folder.mkdir(parents=True, exist_ok=True)
        self._written[table] = self._written.get(table, 0) + 1
        path = folder / f"{self.stamp}-{self._written[table]:06d}.parquet"
        values = [{name: _archived(value) for name, value in row.items()} for row in rows]
        with open(path, "xb") as out:
            pq.write_table(pa.Table.from_pylist(values), out)
            out.flush()
            os.fsync(out.fileno())
        self.files.append(path)


def _archived(value: Any) -> Any:
    """JSON columns as JSON text (their shapes differ row to row)."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


def read_archive(folder: Path | str, table: str) -> list[dict[str, Any]]:
    """The rows archived for one table, oldest batch first (JSON columns as JSON text)."""
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for path in sorted((Path(folder) / table).glob("*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return rows

