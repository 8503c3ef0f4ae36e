"""The server imports the pages' modules when it starts (evalboard/ui/preload.py), and never
the model libraries: navigation must not load torch or transformers. What it loaded is frozen
out of the collector's full collections."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from evalboard.ui.navigation import PAGES
from evalboard.ui.preload import page_imports

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "sentence_transformers")

PROBE = f"""
import gc, json, sys
from evalboard.ui.preload import preload_pages
loaded = preload_pages()
print(json.dumps({{"loaded": loaded, "heavy": [m for m in {HEAVY!r} if m in sys.modules],
                  "frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects())}}))
"""


def test_page_imports_are_read_from_the_page_scripts():
    metrics = next(page for page in PAGES if page.name == "metrics")
    modules = page_imports(Path(metrics.path))
    assert "streamlit" in modules and "evalboard.ui.metrics_view" in modules


def test_preloading_imports_every_page_module_and_no_model_library():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=300)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    wanted = {module for page in PAGES for module in page_imports(Path(page.path))}
    assert set(report["loaded"]) == wanted
    assert report["heavy"] == []
    assert "No runtime found" not in out.stderr
    # the loaded libraries are frozen: Streamlit's collection after each run skips them
    assert report["frozen"] > 50_000 and report["tracked"] < report["frozen"] / 20
