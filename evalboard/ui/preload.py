"""Import what the pages import once, when the server starts, not on a person's first visit.

Each page script's first run in a server process used to import its modules then (Metrics:
Altair, pandas and the metric modules, over a second on a loaded machine) while the person
waited. The entry scripts call `preload_pages()` when Streamlit imports them to find the
server, before it serves. The modules are read from the page scripts' own import statements
(the registry's files), so a new page is preloaded without a list to keep. Libraries the pages
import only inside functions (torch, transformers, sentence-transformers) stay unloaded.

What is loaded then lives as long as the server: it is moved to the collector's permanent
generation (`gc.freeze`). Streamlit runs a full collection after every script run (its
`runner.postScriptGC`, which keeps a session's garbage from piling up); over the ~200,000
objects of the loaded libraries that took ~100 ms of CPU, holding the GIL while the run's
messages waited to be sent: a page turn took ~215 ms in Chromium, ~80 ms with the heap frozen.
"""

from __future__ import annotations

import ast
import gc
import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from evalboard.ui.navigation import PAGES

log = logging.getLogger("evalboard.ui")


def page_imports(path: Path) -> list[str]:
    """The modules a page script imports at its top level."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.append(node.module)
    return list(dict.fromkeys(modules))


@contextmanager
def _quiet_cache_checks() -> Iterator[None]:
    """Before the runtime exists, each st.cache_data decorator logs that it checked its
    options against a stand-in storage (its cache is made at first call, in the runtime)."""
    checker = logging.getLogger("streamlit.runtime.caching.cache_data_api")
    level = checker.level
    checker.setLevel(logging.ERROR)
    try:
        yield
    finally:
        checker.setLevel(level)


def preload_pages() -> list[str]:
    """Import every page's modules, then freeze what is loaded (see above); returns their
    names. A module that fails to import is left for its page to report (the page's own run
    shows the error)."""
    with _quiet_cache_checks():
        loaded = _import_pages()
    freeze_loaded()
    return loaded


def freeze_loaded() -> None:
    """Collect once, then move every object alive now to the permanent generation: later full
    collections (one after each script run) only look at what the sessions made since."""
    gc.collect()
    gc.freeze()


def _import_pages() -> list[str]:
    loaded = []
    for page in PAGES:
        for module in page_imports(Path(page.path)):
            try:
                importlib.import_module(module)
            except Exception:  # noqa: BLE001 - the page itself reports it when visited
                log.warning("could not preload %s for the %s page", module, page.name,
                            exc_info=True)
                continue
            loaded.append(module)
    return list(dict.fromkeys(loaded))
