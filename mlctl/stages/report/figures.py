"""PNG figures from the DVC plot data (plots/*.csv), this revision over the base where it has them."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.stages.report.revisions import Base

THIS, BASE = "#4c72b0", "#8c8c8c"  # this revision in blue, the base in grey (dashed)
MAX_BARS = 15


@dataclass
class Figure:
    """One image written beside the report."""

    name: str
    title: str
    file: Path
    with_base: bool

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "file": str(self.file), "with_base": self.with_base}


def _read(path: Path) -> pd.DataFrame | None:
    import pandas as pd

    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        return pd.read_csv(path)
    except (ValueError, pd.errors.ParserError):
        return None


def _read_base(base: Base | None, rel: str) -> pd.DataFrame | None:
    import pandas as pd

    raw = base.show(rel) if base is not None else None
    if not raw:
        return None
    try:
        return pd.read_csv(io.BytesIO(raw))
    except (ValueError, pd.errors.ParserError):
        return None


def _has(df: pd.DataFrame | None, *cols: str) -> bool:
    return df is not None and not df.empty and all(c in df.columns for c in cols)


def _curve(ax, this, base, x: str, y: str, *, diagonal: bool, area: bool) -> None:
    import numpy as np

    for df, color, style, label in ((base, BASE, "--", "base"), (this, THIS, "-", "this")):
        if not _has(df, x, y):
            continue
        d = df[[x, y]].dropna()
        if area:  # area under the curve, for the legend (ROC AUC, average precision-like)
            order = np.argsort(d[x].to_numpy(), kind="stable")
            label = f"{label} (area {np.trapezoid(d[y].to_numpy()[order], d[x].to_numpy()[order]):.3f})"
        ax.plot(d[x], d[y], style, color=color, linewidth=1.6, label=label, marker="o" if len(d) < 30 else None)
    if diagonal:
        ax.plot([0, 1], [0, 1], ":", color="#bbbbbb", linewidth=1)
    ax.set_xlabel(x.replace("_", " "), fontsize=9)
    ax.set_ylabel(y.replace("_", " "), fontsize=9)
    ax.legend(fontsize=8, frameon=False, loc="best")


def _confusion(fig, axes, this, base) -> None:
    import numpy as np
    import pandas as pd

    pairs = [("this", this)] + ([("base", base)] if _has(base, "actual", "predicted") else [])
    axes = np.atleast_1d(axes)
    for ax, (label, df) in zip(axes, pairs, strict=False):
        table = pd.crosstab(df["actual"].astype(str), df["predicted"].astype(str))
        levels = sorted(set(table.index) | set(table.columns))
        table = table.reindex(index=levels, columns=levels, fill_value=0)
        ax.imshow(table.to_numpy(), cmap="Blues")
        top = table.to_numpy().max() or 1
        for (i, j), v in np.ndenumerate(table.to_numpy()):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=9, color="white" if v > top / 2 else "black")
        ax.set_xticks(range(len(levels)), levels, fontsize=8)
        ax.set_yticks(range(len(levels)), levels, fontsize=8)
        ax.set_xlabel("predicted", fontsize=9)
        ax.set_ylabel("actual", fontsize=9)
        ax.set_title(label, fontsize=10)
    for ax in axes[len(pairs) :]:
        ax.set_visible(False)


def _importance(ax, this, base) -> None:
    import numpy as np

    from mlctl.render.plots import short

    top = this.sort_values("importance", ascending=False).head(MAX_BARS)
    names = [short(n, 24) for n in top["feature"].astype(str)]
    pos = np.arange(len(names))
    if _has(base, "feature", "importance"):
        old = base.set_index(base["feature"].astype(str).map(lambda n: short(n, 24)))["importance"].reindex(names)
        ax.barh(pos + 0.2, old.fillna(0).to_numpy(), height=0.4, color=BASE, label="base")
        ax.barh(pos - 0.2, top["importance"].to_numpy(), height=0.4, color=THIS, label="this")
        ax.legend(fontsize=8, frameon=False, loc="lower right")
    else:
        ax.barh(pos, top["importance"].to_numpy(), color=THIS)
    ax.set_yticks(pos, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("drop in score when shuffled", fontsize=9)


def _scatter(ax, this, base, x: str, y: str) -> None:
    if _has(base, x, y):
        ax.scatter(base[x], base[y], s=5, alpha=0.3, color=BASE, linewidths=0, label="base")
    ax.scatter(this[x], this[y], s=5, alpha=0.45, color=THIS, linewidths=0, label="this")
    if y == "predicted":
        lo, hi = float(min(this[x].min(), this[y].min())), float(max(this[x].max(), this[y].max()))
        ax.plot([lo, hi], [lo, hi], ":", color="#999999", linewidth=1)
    else:
        ax.axhline(0, color="#999999", linewidth=1, linestyle=":")
    ax.set_xlabel(x, fontsize=9)
    ax.set_ylabel(y, fontsize=9)
    ax.legend(fontsize=8, frameon=False, markerscale=3)


# name: (title, required columns)
SPECS = {
    "roc": ("ROC curve", ("fpr", "tpr")),
    "precision_recall": ("Precision-recall curve", ("recall", "precision")),
    "calibration": ("Calibration", ("mean_predicted", "fraction_positive")),
    "confusion": ("Confusion matrix (test split)", ("actual", "predicted")),
    "feature_importance": ("Permutation feature importance", ("feature", "importance")),
    "predicted_vs_actual": ("Predicted vs actual", ("actual", "predicted")),
    "residuals": ("Residuals", ("predicted", "residual")),
    "staleness": ("Staleness: the metric against model age (days)", ("age_days", "value")),
}


def draw(name: str, this: pd.DataFrame, base: pd.DataFrame | None) -> bytes:
    """One figure as PNG bytes."""
    from mlctl.render.plots import figure, to_png

    title, cols = SPECS[name]
    base = base if _has(base, *cols) else None
    # no constrained layout (it doubles the drawing time): fixed margins instead
    if name == "confusion":
        fig, axes = figure(7.0 if base is not None else 3.8, 3.4, ncols=2 if base is not None else 1, layout=None)
        fig.subplots_adjust(left=0.12, right=0.97, bottom=0.15, top=0.84, wspace=0.35)
        _confusion(fig, axes, this, base)
        fig.suptitle(title, fontsize=10)
    else:
        height = max(0.3 * min(len(this), MAX_BARS) + 1.2 if name == "feature_importance" else 3.6, 2.4)
        fig, ax = figure(5.2, height, layout=None)
        left = (
            0.05 + 0.012 * min(24, max(len(str(v)) for v in this["feature"].head(MAX_BARS)))
            if name == "feature_importance"
            else 0.13
        )
        fig.subplots_adjust(left=min(left, 0.4), right=0.97, bottom=0.6 / height, top=1 - 0.35 / height)
        if name == "roc":
            _curve(ax, this, base, "fpr", "tpr", diagonal=True, area=True)
        elif name == "precision_recall":
            _curve(ax, this, base, "recall", "precision", diagonal=False, area=False)
        elif name == "calibration":
            _curve(ax, this, base, "mean_predicted", "fraction_positive", diagonal=True, area=False)
        elif name == "feature_importance":
            _importance(ax, this, base)
        elif name == "staleness":
            _curve(ax, this, base, "age_days", "value", diagonal=False, area=False)
        else:
            _scatter(ax, this, base, *cols)
        ax.set_title(title, fontsize=10)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return to_png(fig, dpi=90)


def write_figures(plots_dir: Path, plots_rel: str, out_dir: Path, base: Base | None) -> list[Figure]:
    """Draw every known plot found in ``plots_dir`` into ``out_dir`` (stale images there are removed)."""
    from mlctl.core.fileio import write_bytes

    figures = []
    for name, (title, cols) in SPECS.items():
        this = _read(plots_dir / f"{name}.csv")
        if not _has(this, *cols):
            continue
        old = _read_base(base, f"{plots_rel}/{name}.csv")
        path = write_bytes(out_dir / f"{name}.png", draw(name, this, old))
        figures.append(Figure(name, title, path, _has(old, *cols)))
    kept = {f.file.name for f in figures}
    for stale in out_dir.glob("*.png") if out_dir.is_dir() else []:
        if stale.name not in kept:
            stale.unlink()
    return figures
