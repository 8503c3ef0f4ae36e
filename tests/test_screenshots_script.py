"""scripts/screenshots.py reports every shot it could not write instead of going on quietly."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "screenshots.py"


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("screenshots_script", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakePage:
    """Renders nothing (times out) or 'takes' a screenshot that writes `written` bytes."""

    def __init__(self, *, renders: bool, written: bytes | None) -> None:
        self.renders, self.written = renders, written

    def goto(self, url: str) -> None: ...

    def get_by_text(self, text: str, exact: bool = False) -> FakePage:
        return self

    @property
    def first(self) -> FakePage:
        return self

    def wait_for(self, timeout: float) -> None:
        if not self.renders:
            raise PlaywrightTimeout("Timeout 60000ms exceeded.\nCall log: ...")

    def wait_for_timeout(self, ms: float) -> None: ...

    def screenshot(self, path: str) -> None:
        if self.written is not None:
            Path(path).write_bytes(self.written)


def test_a_shot_that_is_not_written_is_reported(tmp_path):
    take = _script().take
    out = tmp_path / "metrics.png"
    out.write_bytes(b"stale image from an earlier run")
    assert "Timeout 60000ms exceeded." in take(FakePage(renders=False, written=b"x"), "", "/m",
                                                "Over time", out)
    assert not out.exists()  # a stale file never passes for a fresh one
    assert take(FakePage(renders=True, written=None), "", "/m", "t", out) == (
        "no image was written")
    assert take(FakePage(renders=True, written=b""), "", "/m", "t", out) == (
        "no image was written")
    assert take(FakePage(renders=True, written=b"png"), "", "/m", "t", out) is None
