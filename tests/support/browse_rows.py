"""Browse's results table as AppTest sees it: the HTML table's rows (evalboard.ui.call_table),
or in bulk mode the data grid's."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from streamlit.testing.v1 import AppTest

from evalboard.ui.call_table import COMPONENT_NAME, table_frame


def results_data(at: AppTest) -> dict[str, Any] | None:
    """What the page sent its HTML results table (rows, open call, colours), if it drew one."""
    for component in at.get("bidi_component"):
        if component.proto.component_name == COMPONENT_NAME:
            return dict(json.loads(json.loads(component.proto.json)))
    return None


def results_frame(at: AppTest) -> pd.DataFrame | None:
    """The page's rows of calls, or None when it shows none."""
    data = results_data(at)
    if data is not None:
        return table_frame(data)
    return next((df.value for df in at.dataframe if "id" in df.value.columns), None)
