"""A throwaway PostgreSQL server for the tests, and a fresh database per test on it.

`running_server()` initdb's a cluster in a temporary folder, starts it on 127.0.0.1 (a free
port, no Unix socket in the shared folder) and yields its URL; it stops the server and removes
the folder afterwards. As root it runs the server as the `postgres` OS user (PostgreSQL refuses
root). `$EVALBOARD_TEST_PG_URL` names an already running server instead: CI starts one with
`python -m tests.pg_server start` (see `main`). `fresh_database(server, template=...)` copies
a database migrated once (tests/support/stores.py) instead of creating an empty one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

SERVER_ENV = "EVALBOARD_TEST_PG_URL"
# Durability is not needed for a server that lives for one test run.
_FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here, or the server would not start."""


def find_bin_dir() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, else Debian's newest /usr/lib/postgresql/N."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                      key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0)
    return versions[-1].parent if versions else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(command: list[str], as_postgres: bool) -> subprocess.CompletedProcess[str]:
    prefix = ["runuser", "-u", "postgres", "--"] if as_postgres else []
    return subprocess.run(prefix + command, capture_output=True, text=True, timeout=120,
                          check=False)


def _tools() -> tuple[Path, bool]:
    """The binaries' folder, and whether to run them as the postgres user (we are root)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable("PostgreSQL binaries not found (apt-get install postgresql)")
    as_postgres = os.geteuid() == 0
    if as_postgres and shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root without runuser to switch to postgres")
    return bin_dir, as_postgres


def start_server(folder: Path) -> str:
    """Create a cluster in `folder`/data, start it on 127.0.0.1 and return its URL."""
    bin_dir, as_postgres = _tools()
    data = folder / "data"
    if as_postgres:
        shutil.chown(folder, "postgres")
    init = _run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                 "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], as_postgres)
    if init.returncode:
        raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()}")
    for _attempt in range(3):  # another process may take the free port first
        port = _free_port()
        started = _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"),
                        "-w", "-t", "60", "-o", f"-h 127.0.0.1 -p {port} -k '' {_FAST}", "start"],
                       as_postgres)
        if started.returncode == 0:
            return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    log = (folder / "server.log").read_text(errors="replace")[-2000:]
    raise PostgresUnavailable(f"the server did not start: {log}")


def stop_server(folder: Path) -> None:
    """Stop the server of `folder` (started by `start_server`) and remove the folder."""
    bin_dir, as_postgres = _tools()
    if (folder / "data" / "postmaster.pid").exists():
        _run([str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast", "-w", "stop"],
             as_postgres)
    shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def running_server() -> Iterator[str]:
    """Start a fresh PostgreSQL on 127.0.0.1 and yield its URL (database `postgres`)."""
    folder = Path(tempfile.mkdtemp(prefix="evalboard-pg-"))
    try:
        url = start_server(folder)
        yield url
    finally:
        stop_server(folder)


@contextmanager
def fresh_database(server_url: str, template: str | None = None) -> Iterator[str]:
    """Create a database `evalboard_test_<uuid>` on the server, yield its URL, drop it
    (closing whatever connections the test left open).

    It is empty, or with `template` (a database on that server nobody is connected to) a copy
    of that database made by `CREATE DATABASE … TEMPLATE`."""
    name = f"evalboard_test_{uuid.uuid4().hex}"
    copy_of = f' TEMPLATE "{template}"' if template else ""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{copy_of}'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def main(argv: list[str]) -> int:
    """`python -m tests.pg_server start` prints a new server's folder and URL on one line;
    `python -m tests.pg_server stop FOLDER` stops it and removes the folder (CI uses both)."""
    if argv[:1] == ["start"] and len(argv) == 1:
        folder = Path(tempfile.mkdtemp(prefix="evalboard-pg-"))
        try:
            print(folder, start_server(folder))
        except PostgresUnavailable as exc:
            shutil.rmtree(folder, ignore_errors=True)
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    if argv[:1] == ["stop"] and len(argv) == 2:
        stop_server(Path(argv[1]))
        return 0
    print("usage: python -m tests.pg_server start | stop FOLDER", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
