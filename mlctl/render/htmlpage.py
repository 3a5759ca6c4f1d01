"""Build one self-contained HTML page: inline CSS, images as base64 PNG, no external URLs.

A report is a list of blocks (headings, text, tables, figures) rendered in
order. Nothing is fetched when the page is opened: no CDN scripts, fonts or
stylesheets, so the file can be archived, attached to a CI run or opened offline.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlctl.render import Rows, format_value, table_parts

if TYPE_CHECKING:
    import pandas as pd

CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1100px;margin:0 auto;padding:24px 32px;background:#fff;min-height:100vh}
h1{font-size:1.7em;margin:0 0 4px}h2{font-size:1.3em;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:32px}
h3{font-size:1.05em;margin:18px 0 6px}.sub{color:#59636e;margin:0 0 16px}
p{line-height:1.45}.note{background:#fff8c5;border-left:4px solid #d4a72c;padding:6px 10px;margin:8px 0}
table{border-collapse:collapse;margin:8px 0 16px;font-size:.86em}
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f3f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
caption{caption-side:top;text-align:left;color:#59636e;padding-bottom:4px}
figure{margin:8px 0 16px}figcaption{color:#59636e;font-size:.85em}img{max-width:100%;height:auto}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:8px 16px}
nav ul{columns:3;padding-left:18px;margin:4px 0}nav a{color:#0969da;text-decoration:none}
footer{color:#59636e;font-size:.8em;margin-top:32px}
"""


def _slug(text: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    slug, i = base, 2
    while slug in used:
        slug, i = f"{base}-{i}", i + 1
    used.add(slug)
    return slug


def image_tag(image: Any, alt: str = "") -> str:
    """An <img> with the PNG embedded, or inline <svg>, from a Figure, PNG bytes or SVG text."""
    if isinstance(image, str) and image.lstrip().startswith(("<svg", "<?xml")):
        return image[image.index("<svg") :]
    if not isinstance(image, (bytes, bytearray)):
        from mlctl.render.plots import to_png

        image = to_png(image)
    data = base64.b64encode(bytes(image)).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def table_html(df: pd.DataFrame | Rows, *, caption: str | None = None, index: bool = False, max_rows: int = 200) -> str:
    """Render a DataFrame (or Rows) as an escaped HTML table; numbers right-aligned, long tables cut."""
    if isinstance(df, Rows):
        columns, rows, total = table_parts(df)
        numeric = df.numeric()
    else:
        import pandas as pd

        frame = df.reset_index() if index else df
        columns, rows, total = table_parts(frame.head(max_rows))
        total = len(frame)
        numeric = [pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in frame.dtypes]
    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr></thead>")
    parts.append("<tbody>")
    for row in rows[:max_rows]:
        cells = []
        for value, is_num in zip(row, numeric, strict=True):
            cls = ' class="num"' if is_num else ""
            cells.append(f"<td{cls}>{html.escape(format_value(value))}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    if total > max_rows:
        parts.append(f'<p class="note">showing {max_rows} of {total} rows</p>')
    return "".join(parts)


class HtmlReport:
    """Collects blocks in order and renders them into one self-contained HTML page."""

    def __init__(self, title: str, subtitle: str | None = None):
        self.title = title
        self.subtitle = subtitle
        self._blocks: list[str] = []
        self._toc: list[tuple[str, str]] = []
        self._ids: set[str] = set()

    def heading(self, text: str, level: int = 2) -> HtmlReport:
        """Add a heading; level-2 headings are listed in the table of contents."""
        level = min(max(level, 2), 4)
        anchor = _slug(text, self._ids)
        if level == 2:
            self._toc.append((anchor, text))
        self._blocks.append(f'<h{level} id="{anchor}">{html.escape(text)}</h{level}>')
        return self

    def text(self, text: str) -> HtmlReport:
        """Add a paragraph of plain (escaped) text."""
        self._blocks.append(f"<p>{html.escape(text)}</p>")
        return self

    def note(self, text: str) -> HtmlReport:
        """Add a highlighted remark (a cap that was applied, a fallback that was taken...)."""
        self._blocks.append(f'<p class="note">{html.escape(text)}</p>')
        return self

    def table(self, df: pd.DataFrame | Rows, caption: str | None = None, *, index: bool = False, max_rows: int = 200):
        """Add a table from a DataFrame."""
        self._blocks.append(table_html(df, caption=caption, index=index, max_rows=max_rows))
        return self

    def key_values(self, items: dict[str, Any], caption: str | None = None) -> HtmlReport:
        """Add a two-column table of names and values."""
        rows = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(format_value(v))}</td></tr>" for k, v in items.items()
        )
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        self._blocks.append(f"<table>{cap}<tbody>{rows}</tbody></table>")
        return self

    def figure(self, image: Any, caption: str | None = None) -> HtmlReport:
        """Add one figure (matplotlib Figure, PNG bytes or SVG text)."""
        self._blocks.append(self._figure_html(image, caption))
        return self

    def figures(self, items: list[tuple[Any, str | None]]) -> HtmlReport:
        """Add several figures side by side in a responsive grid."""
        if items:
            inner = "".join(self._figure_html(img, cap) for img, cap in items)
            self._blocks.append(f'<div class="grid">{inner}</div>')
        return self

    @staticmethod
    def _figure_html(image: Any, caption: str | None) -> str:
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        return f"<figure>{image_tag(image, alt=caption or '')}{cap}</figure>"

    def render(self) -> str:
        """The whole page as a string."""
        toc = ""
        if len(self._toc) > 1:
            links = "".join(f'<li><a href="#{a}">{html.escape(t)}</a></li>' for a, t in self._toc)
            toc = f"<nav><ul>{links}</ul></nav>"
        sub = f'<p class="sub">{html.escape(self.subtitle)}</p>' if self.subtitle else ""
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{html.escape(self.title)}</title><style>{CSS}</style></head>"
            f"<body><main><h1>{html.escape(self.title)}</h1>{sub}{toc}"
            + "\n".join(self._blocks)
            + "<footer>generated by mlctl</footer></main></body></html>\n"
        )

    def write(self, path: str | Path) -> Path:
        """Write the page atomically."""
        from mlctl.core.fileio import write_text

        return write_text(path, self.render())
