"""Report tables: plain Rows render exactly as the same DataFrame does (HTML and Markdown)."""

from __future__ import annotations

import pandas as pd

from mlctl.render import Rows, markdown_table
from mlctl.render.htmlpage import table_html


def test_rows_render_as_the_same_dataframe():
    records = [
        {"metric": "accuracy", "value": 0.912345678, "limit": 0.9, "passed": True, "note": "a|b"},
        {"metric": "rows", "value": 12, "limit": None, "passed": False, "note": "<x>\nnext"},
        {"metric": "psi", "value": float("nan"), "limit": 0.2, "passed": True},  # a missing key
    ]
    columns = ["metric", "value", "limit", "passed", "note"]
    rows, frame = Rows(records, columns), pd.DataFrame(records, columns=columns)
    assert markdown_table(rows) == markdown_table(frame)
    assert table_html(rows, caption="c") == table_html(frame, caption="c")
    assert table_html(rows, max_rows=2) == table_html(frame, max_rows=2)
    assert 'class="num"' in table_html(rows) and "&lt;x&gt;" in table_html(rows)
