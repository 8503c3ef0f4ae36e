"""The page registry (evalboard/ui/navigation.py) is the only place that names page files."""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from evalboard.ui.navigation import HOME, PAGES, PAGES_DIR, page_path

ROOT = Path(__file__).resolve().parents[1]
PAGE_PATH_LITERAL = re.compile(r"[\"']app_pages/\w+\.py")  # a path relative to an entry


def test_every_page_file_is_in_the_registry_and_every_entry_has_its_file():
    files = {path.stem for path in PAGES_DIR.glob("*.py") if path.stem != "__init__"}
    assert {page.name for page in PAGES} == files
    assert all(Path(page.path).is_absolute() and Path(page.path).is_file() for page in PAGES)
    assert page_path("browse") == str(PAGES_DIR / "browse.py")


def test_no_page_path_is_spelled_out_outside_the_registry():
    sources = [ROOT / "app.py", *(ROOT / "evalboard").rglob("*.py"), *(ROOT / "tests").glob("*.py"),
               *(ROOT / "bench").glob("*.py")]
    spelled = [str(path.relative_to(ROOT)) for path in sources
               if path.name != "test_navigation.py" and PAGE_PATH_LITERAL.search(path.read_text())]
    assert spelled == []


MENU_PROBE = """
import streamlit as st
from evalboard.ui.navigation import navigation_pages
for page in navigation_pages(lambda permission: permission in {"read", "review"}):
    st.text(f"{page.title}|{page.visibility}|{page.url_path}")  # the default page's is ""
"""


def test_a_role_without_a_permission_keeps_the_page_by_link_but_not_in_the_menu():
    at = AppTest.from_string(MENU_PROBE).run()
    rows = [text.value.split("|") for text in at.text]
    assert [title for title, _, _ in rows] == [page.title for page in PAGES]
    assert {title for title, visibility, _ in rows if visibility == "hidden"} == {
        "Adjudicate", "Test cases", "Settings"}
    assert [title for title, _, url in rows if url == ""] == [HOME.title]
    assert {url for _, _, url in rows} - {""} == {page.name for page in PAGES} - {HOME.name}
