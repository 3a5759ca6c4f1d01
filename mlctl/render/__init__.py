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

__all__ = ["Rows", "format_value", "markdown_table"]


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


class Rows:
    """A small table as plain rows: what a report builds from a few dicts, without importing pandas."""

    def __init__(self, records: list[dict], columns: list[str]):
        self.columns = list(columns)
        self.rows = [tuple(r.get(c) for c in self.columns) for r in records]

    def __len__(self) -> int:
        return len(self.rows)

    def numeric(self) -> list[bool]:
        """Per column: every value present is a number (bools are not)."""
        import numbers

        def number(v: Any) -> bool:
            return isinstance(v, numbers.Real) and not isinstance(v, bool)

        return [all(number(r[j]) for r in self.rows if r[j] is not None) for j in range(len(self.columns))]


def table_parts(df: pd.DataFrame | Rows, index: bool = False) -> tuple[list[str], list[tuple], int]:
    """Column names, rows (as tuples) and the total row count of a DataFrame or Rows."""
    if isinstance(df, Rows):
        return [str(c) for c in df.columns], df.rows, len(df.rows)
    frame = df.reset_index() if index else df
    return [str(c) for c in frame.columns], list(frame.itertuples(index=False)), len(frame)


def markdown_table(df: pd.DataFrame | Rows, *, index: bool = False, digits: int = 4) -> str:
    """Render a DataFrame (or Rows) as a GitHub-flavoured Markdown table (no tabulate needed)."""
    header, rows, _ = table_parts(df, index)

    def cell(v: Any) -> str:
        # a pipe or newline would break the table layout
        return format_value(v, digits).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"
