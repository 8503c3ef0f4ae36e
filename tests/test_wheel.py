"""evalboard as a user installs it: the wheel, in a fresh virtualenv, used from another folder.

The wheel is built from a copy of the package (no `build/` left in the checkout), installed with
--no-deps into a virtualenv that sees the system's site-packages (the dependencies are there
already; the checkout's own editable install is shadowed by the wheel's copy), and everything
runs from a temporary folder outside the checkout: `evalboard demo`, a call logged from Python,
a suite run, `evalboard serve` answering over 127.0.0.1 behind evalboard's guard.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from evalboard.cli.serve_command import STREAMLIT_SETTINGS
from tests.support.app_server import free_port

ROOT = Path(__file__).resolve().parents[1]
# Files the library, the CLI and the app read at run time, besides their modules.
RUN_TIME_FILES = [
    "evalboard/store/migrations/env.py",
    "evalboard/store/migrations/script.py.mako",
    "evalboard/store/migrations/versions/0001_calls_and_model_versions.py",
    "evalboard/app/entry.py",
    "evalboard/app/app_pages/home.py",
    "evalboard/ui/assets/icon.png",
    "evalboard/ui/assets/call_table/table.js",
    "evalboard/ui/assets/common/dom.js",
    "evalboard/ui/assets/review_focus/focus.js",
]
CASES = """\
suite: wheel
cases:
  - {name: caesar, input: "Who was Julius Caesar?", expect: {icontains_any: [caesar, roman]}}
"""
LOG_A_CALL = """\
import sys
import evalboard

print(evalboard.__file__)
board = evalboard.connect(sys.argv[1], mode="sync")
board.log_call("Who was Julius Caesar?", "A Roman general and statesman.",
               model_version="wheel-v1")
board.close()
"""


@dataclass(frozen=True)
class Installed:
    """The wheel installed in a virtualenv, and a working folder outside the checkout."""

    wheel: Path
    venv: Path
    work: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(args, cwd=self.work, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stderr[-2000:]}"
        return done

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)


def _clean_env(venv: Path) -> dict[str, str]:
    """The environment a user's shell would give: this venv first, no test settings."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("EVALBOARD_", "PYTHON", "PYTEST", "COV_"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    shutil.copytree(ROOT / "evalboard", source / "evalboard",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-index",
                    "--no-build-isolation", "-q", "-w", str(base / "dist")],
                   check=True, capture_output=True, timeout=300)
    wheel = next((base / "dist").glob("evalboard-*.whl"))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True, timeout=120)
    work = base / "work"
    work.mkdir()
    done = Installed(wheel, venv, work, _clean_env(venv))
    # The system's pip, run by the venv's interpreter, installs into the venv.
    done.run(done.bin("python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
             "--force-reinstall", "--disable-pip-version-check", str(wheel), timeout=300)
    return done


def test_the_checkout_settings_are_what_serve_passes_to_streamlit():
    """`evalboard serve` gives a wheel's user what .streamlit/config.toml gives a checkout."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    from_checkout = {f"{section}.{key}": str(value).lower() if isinstance(value, bool)
                     else str(value)
                     for section, values in config.items() for key, value in values.items()}
    assert from_checkout.pop("server.address") == "127.0.0.1"  # serve's --host default
    assert from_checkout == STREAMLIT_SETTINGS


@pytest.mark.slow
def test_the_wheel_carries_every_run_time_file(installed: Installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert set(RUN_TIME_FILES) <= names
    assert not any(name.startswith(("tests/", "app_pages/", "migrations/")) for name in names)
    assert not any(name.endswith(("testing_server.py", "plans.py")) for name in names)


@pytest.mark.slow
def test_the_installed_wheel_works_from_another_folder(installed: Installed):
    url = f"sqlite:///{installed.work / 'store.db'}"
    installed.run(installed.bin("evalboard"), "demo", "--calls", "50", "--db", url)

    (installed.work / "log_a_call.py").write_text(LOG_A_CALL)
    logged = installed.run(installed.bin("python"), "log_a_call.py", url)
    assert Path(logged.stdout.splitlines()[0]).is_relative_to(installed.venv)

    (installed.work / "cases.yaml").write_text(CASES)
    installed.run(installed.bin("evalboard"), "cases", "import", "cases.yaml", "--db", url)
    ran = installed.run(installed.bin("evalboard"), "run", "wheel", "--model-version", "wheel-v1",
                        "--replay", "--db", url)
    assert "1 passed" in ran.stdout + ran.stderr

    port = free_port()
    log = (installed.work / "serve.log").open("wb")
    # Sign-in on: the packaged entry must serve the app behind evalboard's guard.
    server = subprocess.Popen([installed.bin("evalboard"), "serve", "--port", str(port),
                               "--db", url], cwd=installed.work,
                              env={**installed.env, "EVALBOARD_AUTH": "local"},
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        assert _get(f"{base}/_stcore/health", server) == b"ok"
        assert b"<title>Streamlit</title>" in _get(f"{base}/", server)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/_stcore/metrics", timeout=5)
        assert refused.value.code == 404
    finally:
        os.killpg(server.pid, 15)  # serve and the streamlit process it started
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait()
        log.close()


def _get(url: str, server: subprocess.Popen[bytes], timeout: float = 60) -> bytes:
    """The body at `url` once the server answers (it may still be starting)."""
    deadline = time.monotonic() + timeout
    while True:
        assert server.poll() is None, f"evalboard serve exited with {server.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except urllib.error.HTTPError:  # it answered: no retry
            raise
        except OSError:  # not listening yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
