"""Render an ``mlctl.stages.prepare.eda.Eda`` as reports/eda.html (self-contained, with plots) and reports/eda.md."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlctl.render import format_value, markdown_table
from mlctl.stages.prepare.eda import MISSING_LEVEL

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.stages.prepare.eda import Eda

TOP_LEVELS = 15  # categories shown per bar chart; the rest are pooled as "(other)"
TOP_CLASSES = 8  # classes drawn separately in per-class plots
DISCRETE_MAX = 12  # numeric columns with at most this many values are drawn as levels


def _levels(col: pd.Series, top: int = TOP_LEVELS) -> pd.Series:
    from mlctl.stages.prepare.eda import as_levels

    levels = as_levels(col)
    keep = levels.value_counts().index[:top]
    return levels.where(levels.isin(keep), "(other)")


def feature_figure(eda: Eda, name: str):
    """Two panels: the feature's distribution, and how the target varies with it."""
    import pandas as pd

    from mlctl.render import plots
    from mlctl.stages.prepare.eda import as_float

    s, y, kind = eda.sample, eda.sample[eda.target], eda.kinds[name]
    # a numeric column with few distinct values (counts, 0/1 flags) reads better as levels in value order
    discrete = kind == "numeric" and s[name].nunique() <= DISCRETE_MAX
    fig, (left, right) = plots.figure(8.0, 2.6, ncols=2, layout=None)
    # fixed margins: constrained layout doubles the time of these many small figures
    wide = kind != "numeric" or discrete  # bar labels on the left need room
    fig.subplots_adjust(left=0.2 if wide else 0.08, right=0.98, bottom=0.17, top=0.89, wspace=0.55 if wide else 0.3)
    classification = eda.task == "classification"
    y_cls = _levels(y, TOP_CLASSES) if classification else None
    if kind == "numeric" and not discrete:
        plots.hist(left, as_float(s[name]), title=f"{name}: distribution")
        if not classification:
            plots.scatter(right, as_float(s[name]), as_float(y), title=f"{eda.target} vs {name}", xlabel=name)
        elif y_cls.nunique() <= 4:
            plots.hist_by_group(right, as_float(s[name]), y_cls, title=f"{name} by {eda.target}")
        else:
            plots.box_by_group(right, as_float(s[name]), y_cls, title=f"{name} by {eda.target}")
        return fig
    levels = _levels(s[name])
    order = levels.value_counts().index
    if discrete:  # labels with 4 significant digits, bars in value order, missing last
        values = pd.Series(as_float(s[name]), index=s.index)
        levels = values.map(lambda v: MISSING_LEVEL if pd.isna(v) else format_value(v)).astype(str)
        by_value = dict(zip(levels, values, strict=True))
        order = sorted(levels.unique(), key=lambda lv: (pd.isna(by_value[lv]), by_value[lv]))
    plots.bar(left, levels.value_counts().reindex(order), title=f"{name}: rows per level", xlabel="rows")
    if not classification:
        by_level = pd.Series(as_float(y), index=levels.index).groupby(levels).mean().reindex(order)
        plots.bar(right, by_level, title=f"mean {eda.target} per level", xlabel=f"mean {eda.target}")
    else:
        shares = _crosstab(levels, y_cls).reindex(order)
        if shares.shape[1] == 2:
            positive = shares.columns[-1]
            plots.bar(right, shares[positive], title=f"share of {eda.target} = {positive!r}", xlabel="share")
            right.set_xlim(0, 1)
        else:
            plots.stacked_bar(right, shares, title=f"{eda.target} shares per level", xlabel="share")
    return fig


def _crosstab(levels: pd.Series, classes: pd.Series) -> pd.DataFrame:
    import pandas as pd

    return pd.crosstab(levels, classes, normalize="index")


def target_figure(eda: Eda):
    """Class balance (bar chart) or the target's histogram for regression."""
    from mlctl.render import plots
    from mlctl.stages.prepare.eda import as_float

    fig, ax = plots.figure(6.0, 2.8)
    if eda.task == "classification":
        counts = eda.target_counts.head(40)
        counts.index = [str(i) for i in counts.index]
        plots.bar(ax, counts, title=f"{eda.target}: rows per class", xlabel="rows")
    else:
        plots.hist(ax, as_float(eda.sample[eda.target]), bins=40, title=f"{eda.target}: distribution")
    return fig


def missing_figure(eda: Eda):
    """Share of missing values per column (columns that have any), or None."""
    from mlctl.render import plots

    prof = eda.profile[eda.profile["missing"] > 0].sort_values("missing", ascending=False).head(40)
    if prof.empty:
        return None
    fig, ax = plots.figure(6.0, 0.6 + 0.25 * len(prof))
    plots.bar(ax, prof.set_index("column")["missing_pct"], title="missing values per column", xlabel="% of rows")
    return fig


def association_figure(eda: Eda):
    """Association of the top features with the target, or None when there is nothing to show."""
    from mlctl.render import plots

    top = eda.associations.dropna(subset=["value"]).head(25)
    if top.empty:
        return None
    colors = [plots.PALETTE[0] if v >= 0 else plots.PALETTE[3] for v in top["value"]]
    fig, ax = plots.figure(6.0, 0.6 + 0.25 * len(top))
    plots.bar(ax, top.set_index("feature")["value"], title=f"association with {eda.target}", color=colors)
    ax.axvline(0, color="#888", linewidth=0.6)
    return fig


def render_html(eda: Eda, context: dict[str, Any]) -> str:
    """The EDA page; ``context`` holds the prepare run's facts (splits, dropped rows, notes)."""
    from mlctl.render.htmlpage import HtmlReport
    from mlctl.render.plots import to_png

    rep = HtmlReport("Exploratory data analysis", f"target {eda.target!r} · task {eda.task} · {eda.rows:,} rows")
    rep.heading("Overview")
    rep.key_values({"rows (after cleaning)": eda.rows, "columns": len(eda.profile), **context.get("facts", {})})
    if context.get("splits") is not None:
        rep.table(context["splits"], "rows per split")
    for note in [*context.get("notes", []), *eda.notes]:
        rep.note(note)
    rep.heading("Target")
    rep.figure(to_png(target_figure(eda)), f"{eda.target} ({eda.task})")
    if eda.task == "classification" and context.get("class_counts") is not None:
        rep.table(context["class_counts"], "rows per class and split", index=True)
    elif eda.target_summary:
        rep.key_values(eda.target_summary, f"{eda.target} summary")
    rep.heading("Missing values")
    fig = missing_figure(eda)
    if fig is None:
        rep.text("No column has missing values.")
    else:
        rep.figure(to_png(fig))
    rep.heading("Association with the target")
    rep.text(_measures_text(eda.task))
    fig = association_figure(eda)
    if fig is not None:
        rep.figure(to_png(fig))
    rep.table(eda.associations.drop(columns=["strength"]), "features, strongest first")
    rep.heading("Columns")
    rep.table(eda.profile.rename(columns={"missing_pct": "missing %"}))
    rep.heading("Features")
    rep.text(f"Each feature's distribution (left) and the target against it (right); {len(eda.plotted)} shown.")
    rep.figures([(to_png(feature_figure(eda, name)), name) for name in eda.plotted])
    return rep.render()


def _measures_text(task: str) -> str:
    if task == "regression":
        return "Numeric features: Pearson r with the target. Categorical features: correlation ratio η."
    return (
        "Numeric features: point-biserial r with the positive class (binary) or correlation ratio η "
        "(multiclass). Categorical features: Cramér's V."
    )


def render_markdown(eda: Eda, context: dict[str, Any], top: int = 10) -> str:
    """A short Markdown summary: shape, columns, target balance, top associations."""
    import pandas as pd

    lines = ["# Exploratory data analysis", ""]
    lines.append(f"Target `{eda.target}` ({eda.task}); {eda.rows:,} rows × {len(eda.profile)} columns after cleaning.")
    lines.append("")
    for note in [*context.get("notes", []), *eda.notes]:
        lines.append(f"- {note}")
    if context.get("splits") is not None:
        lines += ["", "## Splits", "", markdown_table(context["splits"])]
    lines += ["## Columns", "", markdown_table(eda.profile.rename(columns={"missing_pct": "missing %"}))]
    lines += ["## Target", ""]
    if eda.task == "classification":
        counts = eda.target_counts
        frame = pd.DataFrame({"class": [str(i) for i in counts.index], "rows": counts.to_numpy()})
        frame["share"] = (frame["rows"] / max(int(counts.sum()), 1)).round(4)
        lines.append(markdown_table(frame))
    else:
        lines.append(markdown_table(pd.DataFrame([eda.target_summary])))
    lines += ["## Top associations with the target", "", markdown_table(eda.associations.head(top))]
    return "\n".join(lines)
