"""A small shared report toolkit: self-contained HTML pages, Markdown tables and plots.

``mlctl.render.htmlpage`` builds one HTML file with inline CSS and images embedded
as base64 PNG (no external URLs, no scripts), ``mlctl.render.plots`` draws the
matplotlib figures (Agg backend, imported lazily). Stages (prepare's EDA,
evaluate, monitor) reuse both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["format_value", "markdown_table"]


def format_value(value: Any, digits: int = 4) -> str:
    """Render one cell for a report: floats to ``digits`` significant digits, missing as ''."""
    import math
    import numbers

    if value is None or (type(value).__name__ in ("NAType", "NaTType")):
        return ""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        v = float(value)
        return "" if math.isnan(v) else f"{v:.{digits}g}"
    return str(value)


def markdown_table(df: pd.DataFrame, *, index: bool = False, digits: int = 4) -> str:
    """Render a DataFrame as a GitHub-flavoured Markdown table (no tabulate needed)."""
    frame = df.reset_index() if index else df
    header = [str(c) for c in frame.columns]

    def cell(v: Any) -> str:
        # a pipe or newline would break the table layout
        return format_value(v, digits).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"
