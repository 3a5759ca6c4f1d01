"""matplotlib helpers for reports: Agg backend, no pyplot state, figures to PNG bytes.

Figures are built with ``matplotlib.figure.Figure`` directly (not pyplot), so
nothing global is kept between plots and nothing tries to open a window; the
import happens inside the functions so the CLI starts fast.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PALETTE = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974"]
DPI = 80


def figure(
    width: float = 6.0, height: float = 3.0, ncols: int = 1, nrows: int = 1, *, layout: str | None = "constrained"
) -> tuple[Figure, Any]:
    """A new Agg-backed Figure and its axes (one Axes, or an array when ncols/nrows > 1).

    ``layout=None`` skips constrained layout (it costs about half the drawing
    time): use it for many small figures and set margins with ``subplots_adjust``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(fig)  # the Agg canvas explicitly: no pyplot, no GUI backend, no global state
    axes = fig.subplots(nrows, ncols, squeeze=True)
    return fig, axes


def to_png(fig: Figure, dpi: int = DPI) -> bytes:
    """Render a figure to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def short(label: Any, width: int = 18) -> str:
    """A tick label cut to ``width`` characters."""
    text = str(label)
    return text if len(text) <= width else text[: width - 1] + "…"


def display_range(arr: Any) -> tuple[float, float] | None:
    """The middle 99% of ``arr`` when a few outliers would squash the rest of a histogram, else None."""
    import numpy as np

    if arr.size < 20:
        return None
    lo, hi = np.quantile(arr, [0.005, 0.995])
    full = arr.max() - arr.min()
    if hi <= lo or full <= 3 * (hi - lo):
        return None
    return float(lo), float(hi)


def _clip_note(ax: Axes) -> None:
    ax.set_xlabel("middle 99% of values shown (outliers left out)", fontsize=7, color="#666")


def hist(ax: Axes, values: Any, *, bins: int = 30, title: str | None = None, xlabel: str | None = None) -> Axes:
    """Histogram of the finite values of ``values`` (extreme outliers left out, with a note)."""
    import numpy as np

    arr = np.asarray(values, dtype="float64")
    arr = arr[np.isfinite(arr)]
    if arr.size:
        span = display_range(arr)
        if span:
            arr = arr[(arr >= span[0]) & (arr <= span[1])]
            _clip_note(ax)
        # np.histogram + one stairs artist: far cheaper to draw than ax.hist's rectangle per bin
        counts, edges = np.histogram(arr, bins=min(bins, max(1, len(np.unique(arr)))))
        ax.stairs(counts, edges, fill=True, color=PALETTE[0])
    else:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
    _label(ax, title, xlabel, "rows")
    return ax


def hist_by_group(ax: Axes, values: Any, groups: Any, *, bins: int = 30, title: str | None = None) -> Axes:
    """Overlaid, density-normalised histograms of ``values`` for each level of ``groups``."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"v": np.asarray(values, dtype="float64"), "g": np.asarray(groups)})
    frame = frame[np.isfinite(frame["v"])]
    if frame.empty:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        return ax
    span = display_range(frame["v"].to_numpy())
    if span:
        frame = frame[frame["v"].between(*span)]
        _clip_note(ax)
    edges = np.histogram_bin_edges(frame["v"], bins=min(bins, max(1, frame["v"].nunique())))
    for i, (level, part) in enumerate(frame.groupby("g", sort=True)):
        density, _ = np.histogram(part["v"], bins=edges, density=True)
        color = PALETTE[i % len(PALETTE)]
        ax.stairs(density, edges, fill=True, alpha=0.35, color=color)
        ax.stairs(density, edges, color=color, linewidth=1.0, label=short(level))
    ax.legend(fontsize=7, frameon=False)
    _label(ax, title, None, "density")
    return ax


def bar(
    ax: Axes,
    values: pd.Series,
    *,
    horizontal: bool = True,
    title: str | None = None,
    xlabel: str | None = None,
    color: str | list[str] | None = None,
) -> Axes:
    """Bar chart of a Series (index = labels); horizontal bars list the first item on top."""
    labels = [short(i) for i in values.index]
    colors = color or PALETTE[0]
    if horizontal:
        ax.barh(range(len(values)), values.to_numpy(dtype="float64"), color=colors)
        ax.set_yticks(range(len(values)), labels, fontsize=8.5)
        ax.invert_yaxis()
        _label(ax, title, xlabel, None)
    else:
        ax.bar(range(len(values)), values.to_numpy(dtype="float64"), color=colors)
        ax.set_xticks(range(len(values)), labels, fontsize=8.5, rotation=30, ha="right")
        _label(ax, title, None, xlabel)
    return ax


def stacked_bar(ax: Axes, table: pd.DataFrame, *, title: str | None = None, xlabel: str | None = None) -> Axes:
    """Horizontal stacked bars: one bar per row of ``table``, one segment per column (shares)."""
    import numpy as np

    left = np.zeros(len(table))
    for i, col in enumerate(table.columns):
        vals = table[col].to_numpy(dtype="float64")
        ax.barh(range(len(table)), vals, left=left, color=PALETTE[i % len(PALETTE)], label=short(col))
        left += vals
    ax.set_yticks(range(len(table)), [short(i) for i in table.index], fontsize=8)
    ax.invert_yaxis()
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    _label(ax, title, xlabel, None)
    return ax


def box_by_group(ax: Axes, values: Any, groups: Any, *, title: str | None = None) -> Axes:
    """Box plots of ``values`` for each level of ``groups`` (levels sorted)."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"v": np.asarray(values, dtype="float64"), "g": np.asarray(groups)})
    frame = frame[np.isfinite(frame["v"])]
    parts = [(level, part["v"].to_numpy()) for level, part in frame.groupby("g", sort=True)]
    if parts:
        ax.boxplot([p for _, p in parts], vert=False, showfliers=False, widths=0.6)
        ax.set_yticks(range(1, len(parts) + 1), [short(level) for level, _ in parts], fontsize=8)
    _label(ax, title, None, None)
    return ax


def scatter(ax: Axes, x: Any, y: Any, *, title: str | None = None, xlabel: str | None = None, ylabel=None) -> Axes:
    """A light scatter plot (small, translucent points: readable with thousands of rows)."""
    ax.scatter(x, y, s=4, alpha=0.35, color=PALETTE[0], linewidths=0)
    _label(ax, title, xlabel, ylabel)
    return ax


def _label(ax: Axes, title: str | None, xlabel: str | None, ylabel: str | None) -> None:
    if title:
        ax.set_title(title, fontsize=10)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=9)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=9)
    ax.tick_params(labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
