"""The one registry of the dashboard's pages: file, title, icon, and the permission that keeps a
page in the menu. The entry scripts build `st.navigation` from it, and links and page switches
name its entries, so no page path is spelled out anywhere else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

# The page scripts ship inside the package (evalboard/app/app_pages/): found by absolute path,
# they resolve the same from the checkout's app.py, the packaged entry and AppTest.
PAGES_DIR = Path(__file__).resolve().parents[1] / "app" / "app_pages"


@dataclass(frozen=True)
class PageEntry:
    """One dashboard page; `permission` (when set) is what a role needs to see it in the menu."""

    name: str
    title: str
    icon: str
    permission: str | None = None

    @property
    def path(self) -> str:
        """The page script's absolute path, what st.page_link and st.switch_page accept."""
        return str(PAGES_DIR / f"{self.name}.py")


HOME = PageEntry("home", "Home", ":material/home:")
BROWSE = PageEntry("browse", "Browse", ":material/table_rows:")
REVIEW = PageEntry("review", "Review", ":material/rate_review:", permission="review")
QUEUES = PageEntry("queues", "Queues", ":material/inventory_2:")
ADJUDICATE = PageEntry("adjudicate", "Adjudicate", ":material/gavel:", permission="adjudicate")
PAIRWISE = PageEntry("pairwise", "Pairwise", ":material/compare:", permission="review")
CASES = PageEntry("cases", "Test cases", ":material/checklist:", permission="edit_cases")
RUNS = PageEntry("runs", "Runs", ":material/play_circle:")
COMPARE = PageEntry("compare", "Compare", ":material/compare_arrows:")
METRICS = PageEntry("metrics", "Metrics", ":material/monitoring:")
AGREEMENT = PageEntry("agreement", "Agreement", ":material/groups:")
MONITORS = PageEntry("monitors", "Monitors", ":material/monitor_heart:")
SETTINGS = PageEntry("settings", "Settings", ":material/settings:", permission="admin")

PAGES: tuple[PageEntry, ...] = (HOME, BROWSE, REVIEW, QUEUES, ADJUDICATE, PAIRWISE, CASES, RUNS,
                                COMPARE, METRICS, AGREEMENT, MONITORS, SETTINGS)


def page_path(name: str) -> str:
    """The absolute path of the page called `name` ("browse"); KeyError for an unknown one."""
    return {page.name: page for page in PAGES}[name].path


def navigation_pages(may: Callable[[str], bool]) -> list[st.Page]:
    """The registry as st.Page objects, Home first and default. A page whose permission the
    signed-in role lacks leaves the menu but stays reachable by link (and says why)."""
    return [
        st.Page(page.path, title=page.title, icon=page.icon, default=page is HOME,
                visibility="visible" if page.permission is None or may(page.permission)
                else "hidden")
        for page in PAGES
    ]
