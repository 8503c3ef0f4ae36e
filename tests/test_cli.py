"""The `evalboard` console command, run for real in subprocesses against a fresh SQLite store.

Each subprocess costs about a second, so independent commands run concurrently (`Cli.many`);
they share a store only once the `engine` fixture has upgraded it, so no two migrate at once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from evalboard.store import migrate, open_store
from evalboard.store.calls_counts import count_calls
from evalboard.store.calls_query import CallFilter, iter_calls
from tests.support.calls import T0, add_calls, make_rows

EVALBOARD = shutil.which("evalboard")
pytestmark = pytest.mark.skipif(EVALBOARD is None, reason="the evalboard script is not installed")
TIMEOUT_S = 120


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    def one_line_error(self, code: int = 1) -> str:
        """Assert the command failed with one `error: ...` line and no traceback; return it."""
        assert self.code == code, (self.code, self.stdout, self.stderr)
        assert "Traceback" not in self.stderr + self.stdout
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), self.stderr
        return lines[0]


@dataclass(frozen=True)
class Cli:
    """Runs `evalboard` in `cwd` with EVALBOARD_DB_URL set to the test's store."""

    cwd: Path
    db_url: str

    def many(self, *commands: list[str]) -> list[Result]:
        env = {**os.environ, "EVALBOARD_DB_URL": self.db_url, "COLUMNS": "100"}
        procs = [
            subprocess.Popen([EVALBOARD, *map(str, args)], cwd=self.cwd, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for args in commands
        ]
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=TIMEOUT_S)
            results.append(Result(proc.returncode, out, err))
        return results

    def __call__(self, *args: object) -> Result:
        return self.many([*args])[0]


@pytest.fixture
def cli(tmp_path, db_url) -> Cli:
    return Cli(tmp_path, db_url)


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def foreign_line(i: int, tokens: object = 3) -> str:
    return json.dumps({"question": f"q{i}", "response": {"text": f"a{i}"},
                       "usage": {"prompt_tokens": tokens}, "req": f"r{i}"})


MAP = ["--map", "input=question", "--map", "output=response.text", "--map", "external_id=req"]


# --- help --------------------------------------------------------------------------------------

HELP_PHRASES = {
    (): ["Usage: evalboard", "import", "export", "demo", "serve", "db",
         "Log, review and test the outputs"],
    ("import",): ["Usage: evalboard import", "--map", "FIELD=SOURCE", "dotted path",
                  "--model-version", "--source", "--format", "--on-error", "--db",
                  "EVALBOARD_DB_URL", "Importing the same file again adds nothing"],
    ("export",): ["Usage: evalboard export", "--model-version", "--since", "--until",
                  "--search", "--format", "JSONL, CSV or Parquet"],
    ("db",): ["upgrade", "current", "history", "schema"],
    ("demo",): ["--calls", "--seed", "synthetic"],
    ("serve",): ["--port", "--host", "dashboard"],
}


# Commands that never open the store: run once per module, all at once.
NO_STORE = [(*command, "--help") for command in HELP_PHRASES] + [
    (), ("import",), ("db", "history")]


@pytest.fixture(scope="module")
def no_store(tmp_path_factory) -> dict[tuple[str, ...], Result]:
    folder = tmp_path_factory.mktemp("no-store")
    results = Cli(folder, f"sqlite:///{folder / 'unused.db'}").many(*map(list, NO_STORE))
    assert not (folder / "unused.db").exists()
    return dict(zip(NO_STORE, results, strict=True))


def normalized(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("command", list(HELP_PHRASES), ids=lambda c: " ".join(c) or "top")
def test_help_reads_well(no_store, command):
    result = no_store[(*command, "--help")]
    assert (result.code, result.stderr) == (0, "")
    text = normalized(result.stdout)
    for phrase in HELP_PHRASES[command]:
        assert phrase in text, f"{phrase!r} missing from `evalboard {' '.join(command)} --help`"


def test_help_shows_no_python_types(no_store):
    assert "list[str]" not in no_store[("export", "--help")].stdout


def test_missing_arguments_show_usage_with_exit_code_2(no_store):
    top, missing_file = no_store[()], no_store[("import",)]
    assert (top.code, missing_file.code) == (2, 2)
    assert "Commands:" in top.stdout + top.stderr
    assert "Missing argument 'FILE'" in missing_file.stderr
    assert "Traceback" not in top.stderr + missing_file.stderr


# --- db ----------------------------------------------------------------------------------------


def test_db_upgrade_current_and_history(cli, no_store):
    head = migrate.head_revision()
    before = cli("db", "current")
    assert (before.code, before.stdout.strip()) == (0, f"empty store (head is {head})")
    upgraded = cli("db", "upgrade")
    assert (upgraded.code, upgraded.stdout.strip()) == (0, f"upgraded an empty store -> {head}")
    current = cli("db", "current")
    assert (current.code, current.stdout.strip()) == (0, f"{head} (head)")
    history = no_store[("db", "history")]
    lines = history.stdout.strip().splitlines()
    assert history.code == 0 and len(lines) == len(migrate.history())
    assert lines[0].startswith("<base> -> ") and lines[-1].split()[2] == head


# --- import ------------------------------------------------------------------------------------


def test_import_with_map_reports_problems_and_is_idempotent(cli, engine):
    path = write_jsonl(cli.cwd / "foreign.jsonl", [
        foreign_line(1), "{not json", foreign_line(2), foreign_line(3, tokens="abc"),
        foreign_line(4),
    ])
    first = cli("import", path.name, *MAP, "--model-version", "v7", "--source", "eval")
    assert first.code == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == "imported 3, skipped 2, already present 0"
    assert first.stderr.strip().splitlines() == [
        "foreign.jsonl: line 2: malformed JSON at character 2: "
        "Expecting property name enclosed in double quotes",
        "foreign.jsonl: line 4: prompt_tokens: expected a number, got 'abc'",
    ]
    calls = {c["input"]: c for c in iter_calls(engine, CallFilter())}
    assert sorted(calls) == ["q1", "q2", "q4"]
    assert {(c["output"], c["model_version"], c["source"], c["prompt_tokens"])
            for c in calls.values()} == {("a1", "v7", "eval", 3), ("a2", "v7", "eval", 3),
                                         ("a4", "v7", "eval", 3)}
    assert calls["q2"]["external_id"] == "r2"
    again = cli("import", path.name, *MAP, "--source", "eval")
    assert again.stdout.strip().splitlines()[-1] == "imported 0, skipped 2, already present 3"
    assert count_calls(engine) == 3


def test_import_abort_and_long_problem_lists(cli, engine):
    bad = write_jsonl(cli.cwd / "bad.jsonl", [foreign_line(0)] + ["oops"] * 25)
    abort, skip = cli.many(["import", bad, *MAP, "--on-error", "abort"],
                           ["import", bad, *MAP, "--db", f"sqlite:///{cli.cwd / 'other.db'}"])
    problems = [f"bad.jsonl: line {n}: malformed JSON" for n in range(2, 22)]
    for result in (abort, skip):
        lines = result.stderr.strip().splitlines()
        assert [line[: len(p)] for line, p in zip(lines, problems, strict=False)] == problems
        assert lines[20] == "... and 5 more problems"
        assert "Traceback" not in result.stderr
    assert abort.code == 1 and "imported" not in abort.stdout
    assert abort.stderr.strip().splitlines()[-1] == (
        "error: aborted: 25 row(s) with problems, nothing imported "
        "(use --on-error skip to import the good rows)")
    assert count_calls(engine) == 0
    assert skip.code == 0 and skip.stdout.strip() == "imported 1, skipped 25, already present 0"
    other = open_store(f"sqlite:///{cli.cwd / 'other.db'}")
    assert count_calls(other) == 1  # --db wins over EVALBOARD_DB_URL
    other.dispose()


def test_user_errors_are_one_line_without_traceback(cli, engine, subtests):
    good = write_jsonl(cli.cwd / "good.jsonl", [foreign_line(1)])
    cases = [  # (arguments, part of the message, exit code)
        (["import", good, "--map", "inptu=question"], "unknown field 'inptu'", 1),
        (["import", good, "--map", "input"], "expected FIELD=SOURCE", 1),
        (["import", "missing.jsonl"], "no such file: missing.jsonl", 1),
        (["import", good, "--db", "notaurl://x"], "cannot use store URL notaurl://x", 1),
        (["import", good, "--db", f"sqlite:///{cli.cwd / 'no' / 'such' / 'x.db'}"],
         "the folder of the store does not exist", 1),
        (["export", "no/such/out.jsonl"], "does not exist", 1),
        (["export", "out.txt"], "unknown export format 'txt'", 1),
        (["import", good, "--on-error", "maybe"], "--on-error must be skip or abort", 2),
    ]
    results = cli.many(*(args for args, _, _ in cases))
    for (args, message, code), result in zip(cases, results, strict=True):
        with subtests.test(" ".join(map(str, args))):
            assert message in result.one_line_error(code)
            assert result.stdout == ""
    assert count_calls(engine) == 0
    assert not (cli.cwd / "no").exists()


# --- export ------------------------------------------------------------------------------------


def test_export_writes_filtered_files(cli, engine):
    rows = make_rows(5, model_version="v1") + make_rows(
        5, start=T0 + timedelta(hours=1), model_version="v2")
    rows[7]["output"] = "something about llamas"
    add_calls(engine, rows)
    since, until = (T0 + timedelta(minutes=2)).isoformat(), (T0 + timedelta(hours=1)).isoformat()
    results = cli.many(
        ["export", "all.jsonl"],
        ["export", "v2.csv", "--model-version", "v2"],
        ["export", "range.data", "--format", "jsonl", "--since", since, "--until", until],
        ["export", "llamas.parquet", "--search", "llamas"],
    )
    assert [r.stdout.strip() for r in results] == [
        "exported 10 calls to all.jsonl", "exported 5 calls to v2.csv",
        "exported 3 calls to range.data", "exported 1 calls to llamas.parquet"]
    lines = (cli.cwd / "all.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 10 and json.loads(lines[0])["input"] == "prompt number 0"
    csv_lines = (cli.cwd / "v2.csv").read_text(encoding="utf-8").splitlines()
    assert len(csv_lines) == 6 and csv_lines[0].startswith("id,created_at,model_version")
    assert all(",v2," in line for line in csv_lines[1:])
    assert len((cli.cwd / "range.data").read_text(encoding="utf-8").splitlines()) == 3
    assert pq.read_table(cli.cwd / "llamas.parquet").column("output").to_pylist() == [
        "something about llamas"]
    imported = cli("import", "all.jsonl", "--db", f"sqlite:///{cli.cwd / 'copy.db'}")
    assert imported.stdout.strip() == "imported 10, skipped 0, already present 0"


# --- demo --------------------------------------------------------------------------------------


def test_demo_adds_calls_once(cli, engine):
    first = cli("demo", "--calls", "200", "--seed", "1")
    assert first.code == 0, first.stderr
    assert first.stdout.startswith("demo: 200 calls added (0 already present)")
    assert count_calls(engine) == 200
    again = cli("demo", "--calls", "200", "--seed", "1")
    assert again.stdout.startswith("demo: 0 calls added (200 already present)")
    assert count_calls(engine) == 200
