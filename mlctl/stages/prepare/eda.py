"""EDA computations for `prepare`: per-column profile, target balance, associations with the target.

Everything here is numbers and tables; ``mlctl.stages.prepare.eda_report`` turns them into
reports/eda.html and reports/eda.md. Plots and associations use a seeded
sample of at most ``max_rows`` rows so the report stays fast on large data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MAX_ROWS = 50_000
MAX_FEATURES = 40
MISSING_LEVEL = "(missing)"


@dataclass
class Eda:
    """The EDA of one cleaned dataset."""

    rows: int
    target: str
    task: str
    profile: pd.DataFrame  # one row per column: column, kind, dtype, missing, missing_pct, unique, summary
    target_counts: pd.Series | None  # classification: rows per class
    target_summary: dict | None  # regression: describe() of the target
    associations: pd.DataFrame  # feature, kind, measure, value, strength (sorted by strength)
    sample: pd.DataFrame  # the rows used for plots and associations
    plotted: list[str]  # features that get a plot, strongest association first
    notes: list[str] = field(default_factory=list)

    @property
    def kinds(self) -> dict[str, str]:
        return dict(zip(self.profile["column"], self.profile["kind"], strict=True))


def column_kind(col: pd.Series) -> str:
    """'boolean', 'numeric', 'datetime' or 'categorical' from the dtype."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(col):
        return "boolean"
    if pd.api.types.is_numeric_dtype(col):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(col):
        return "datetime"
    return "categorical"


def as_float(col: pd.Series) -> np.ndarray:
    """Numeric or boolean values as float64 with NaN for missing."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(col):
        col = col.astype("float64") if col.dtype == bool else col.astype("Float64")
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def as_levels(col: pd.Series) -> pd.Series:
    """Values as strings with missing as its own level."""
    return col.astype("string").fillna(MISSING_LEVEL).astype(str)


def summarise(col: pd.Series, kind: str) -> str:
    """A one-line summary of a column for the profile table."""
    import numpy as np

    # no dropna() copy of the Series (index and all): 5 s of prepare at 10M rows
    if kind == "numeric":
        v = as_float(col)
        v = v[~np.isnan(v)]
        if len(v) == 0:
            return "all missing"
        stats = {"mean": v.mean(), "std": v.std(), "min": v.min(), "median": np.median(v), "max": v.max()}
        return ", ".join(f"{k} {x:.4g}" for k, x in stats.items())
    if not col.notna().any():
        return "all missing"
    if kind == "datetime":
        return f"{col.min()} … {col.max()}"  # NaT skipped
    shares = col.value_counts(normalize=True, dropna=True).head(3)  # counted on the values, not on a string copy
    return ", ".join(f"{level} {share:.0%}" for level, share in shares.items())


def profile_columns(df: pd.DataFrame) -> pd.DataFrame:
    """One row per column: kind, dtype, missing count and share, distinct values, summary."""
    import pandas as pd

    rows = []
    for name in df.columns:
        col = df[name]
        kind = column_kind(col)
        missing = int(col.isna().sum())
        rows.append(
            {
                "column": str(name),
                "kind": kind,
                "dtype": str(col.dtype),
                "missing": missing,
                "missing_pct": round(100 * missing / max(len(col), 1), 2),
                "unique": int(col.nunique(dropna=True)),
                "summary": summarise(col, kind),
            }
        )
    return pd.DataFrame(rows, columns=["column", "kind", "dtype", "missing", "missing_pct", "unique", "summary"])


def correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r over rows where both are present (NaN when undefined)."""
    import numpy as np

    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def correlation_ratio(groups: pd.Series, values: np.ndarray) -> float:
    """η: how much of the variance of ``values`` the groups explain (0..1)."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"g": np.asarray(groups), "v": values}).dropna()
    if len(frame) < 3 or frame["v"].std() == 0:
        return float("nan")
    stats = frame.groupby("g", sort=False)["v"].agg(["count", "mean"])
    between = float((stats["count"] * (stats["mean"] - frame["v"].mean()) ** 2).sum())
    total = float(((frame["v"] - frame["v"].mean()) ** 2).sum())
    return float(np.sqrt(between / total)) if total > 0 else float("nan")


def cramers_v(a: pd.Series, b: pd.Series) -> float:
    """Cramér's V between two categorical series (0 = independent, 1 = determined)."""
    import numpy as np
    import pandas as pd

    table = pd.crosstab(np.asarray(a), np.asarray(b)).to_numpy(dtype="float64")
    n = table.sum()
    k = min(table.shape) - 1
    if n == 0 or k < 1:
        return float("nan")
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / n / k))


def associations(sample: pd.DataFrame, target: str, task: str, classes: list | None) -> pd.DataFrame:
    """Association of each feature with the target, with the measure that fits both kinds."""
    import pandas as pd

    y = sample[target]
    binary = task == "classification" and classes is not None and len(classes) == 2
    y_num = as_float(y) if task == "regression" else (y == classes[-1]).to_numpy(dtype="float64") if binary else None
    y_levels = as_levels(y) if task == "classification" else None
    rows = []
    for name in sample.columns:
        if name == target:
            continue
        kind = column_kind(sample[name])
        if kind == "datetime":
            continue
        if kind in ("numeric", "boolean"):
            x = as_float(sample[name])
            if y_num is not None:
                measure = "pearson r" if task == "regression" else f"point-biserial r (vs {classes[-1]!r})"
                value = correlation(x, y_num)
            else:
                measure, value = "correlation ratio η", correlation_ratio(y_levels, x)
        elif task == "classification":
            measure, value = "Cramér's V", cramers_v(as_levels(sample[name]), y_levels)
        else:
            measure, value = "correlation ratio η", correlation_ratio(as_levels(sample[name]), y_num)
        rows.append({"feature": str(name), "kind": kind, "measure": measure, "value": value, "strength": abs(value)})
    out = pd.DataFrame(rows, columns=["feature", "kind", "measure", "value", "strength"])
    return out.sort_values("strength", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


def explore(
    df: pd.DataFrame,
    target: str,
    task: str,
    *,
    seed: int = 0,
    max_rows: int = MAX_ROWS,
    max_features: int = MAX_FEATURES,
) -> Eda:
    """Profile ``df`` and relate every feature to ``target``."""
    notes = []
    sample = df
    if len(df) > max_rows:
        sample = df.sample(n=max_rows, random_state=seed)
        notes.append(f"plots and associations use a random sample of {max_rows:,} of {len(df):,} rows")
    classes, counts, summary = None, None, None
    if task == "classification":
        counts = df[target].value_counts(dropna=False).sort_index()
        classes = list(counts.index)
    else:
        import pandas as pd

        summary = {str(k): float(v) for k, v in pd.Series(as_float(df[target])).describe().items()}
    assoc = associations(sample, target, task, classes)
    features = list(assoc["feature"])
    plotted = features[:max_features]
    if len(features) > max_features:
        notes.append(f"plots show the {max_features} features most associated with the target of {len(features)}")
    return Eda(
        rows=len(df),
        target=target,
        task=task,
        profile=profile_columns(df),
        target_counts=counts,
        target_summary=summary,
        associations=assoc,
        sample=sample,
        plotted=plotted,
        notes=notes,
    )
