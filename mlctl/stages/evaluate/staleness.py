"""Staleness (ML Test Score M4): how the metric falls as the model ages.

When the data has a time column (``evaluate.staleness.time_column``, set by
`mlctl init`), the periods are runs of calendar months of its ``<col>_year`` and
``<col>_month`` features (written by `mlctl prepare`): 1, 2, 3, 6 or 12 months,
the shortest whose newest period has ``min_rows`` labelled rows. For ages
k = 1..periods the chosen configuration (the trained model's parameters, cloned)
is fitted on the labelled rows up to k periods before the newest one and scored
on the newest: the metric against the model's age. The largest age whose metric
stays within ``tolerance`` of the 1-period-old model's is the advised maximum
model age, which `mlctl monitor` reads (``monitor.staleness``). Bounded: at most
``max_rows`` rows per fit and per scoring, at most ``periods`` fits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlctl.model.metrics import higher_is_better

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.params.evaluate import StalenessParams

DAYS_PER_PERIOD = 30.44  # a calendar month
PERIODS = (1, 2, 3, 6, 12)  # period lengths tried, in months: the first with enough rows in the newest one


def off(reason: str) -> dict[str, Any]:
    """The record written when no curve is measured."""
    return {"enabled": False, "reason": reason, "points": [], "max_age_periods": None, "max_age_days": None}


def period_columns(column: str) -> tuple[str, str]:
    """The date features prepare derived from ``column`` that give a row's month."""
    return f"{column}_year", f"{column}_month"


def periods_of(df: pd.DataFrame, column: str) -> pd.Series | None:
    """Month index (year * 12 + month - 1) of each row, from the date features; None without them."""
    year, month = period_columns(column)
    if year not in df.columns or month not in df.columns:
        return None
    return df[year].astype("float64") * 12 + df[month].astype("float64") - 1


def _label(period: float) -> str:
    return f"{int(period // 12):04d}-{int(period % 12) + 1:02d}"


def period_months(month: pd.Series, min_rows: int) -> int | None:
    """The shortest period (1, 2, 3, 6 or 12 months) whose newest one holds ``min_rows`` rows, with older data."""
    newest = month.max()
    for length in PERIODS:
        if int((month > newest - length).sum()) >= min_rows and (month <= newest - length).any():
            return length
    return None


def max_age(points: list[dict[str, Any]], metric: str, tolerance: float) -> tuple[int | None, bool]:
    """(largest age within ``tolerance`` of the youngest model's metric, whether the curve dropped beyond it)."""
    scored = [p for p in points if p["value"] is not None]
    if not scored:
        return None, False
    ref, up = scored[0]["value"], higher_is_better(metric)
    best = scored[0]["age_periods"]
    for p in scored[1:]:
        drop = ref - p["value"] if up else p["value"] - ref
        if drop > tolerance:
            return best, True
        best = p["age_periods"]
    return best, False


def curve(
    model: Any, df: pd.DataFrame, info: dict[str, Any], params: StalenessParams, metric: str, seed: int
) -> dict[str, Any]:
    """The staleness curve of ``model``'s configuration on ``df`` (all labelled splits together)."""
    import numpy as np
    import pandas as pd
    from sklearn.base import clone

    from mlctl.model.features import Feature, to_model_frame
    from mlctl.model.metrics import metric_value, score

    column, target = params.time_column, info["target"]
    if not column:
        return off("no time column (evaluate.staleness.time_column)")
    period = periods_of(df, column)
    if period is None:
        return off(f"no {column}_year and {column}_month features (prepare.date_columns, prepare.date_parts)")
    # choose rows on three light columns, then take the features of the chosen ones only: filtering and
    # sorting the whole frame copied every split's rows several times (gigabytes at 10M rows)
    keep = (df[target].notna() & period.notna()).to_numpy()
    at = np.flatnonzero(keep)  # positions in df: the index labels may repeat
    rows = pd.DataFrame({target: df[target].to_numpy()[at], "_month": period.to_numpy()[at]}, index=at)
    if rows.empty:
        return off(f"no labelled rows with a {column}")
    newest = rows["_month"].max()
    length = period_months(rows["_month"], params.min_rows)
    if length is None:
        return off(f"fewer than {params.min_rows} labelled rows in the newest year up to {_label(newest)}")
    rows["_period"] = ((newest - rows["_month"]) // length).astype("int64")  # 0: the newest period
    scored_rows = rows[rows["_period"] == 0]
    if len(scored_rows) > params.max_rows:
        scored_rows = scored_rows.sample(params.max_rows, random_state=seed)
    features = [Feature(f["name"], f["kind"]) for f in info["features"]]
    X_scored = to_model_frame(df.iloc[scored_rows.index], features)
    points: list[dict[str, Any]] = []
    for age in range(1, params.periods + 1):
        window = rows[rows["_period"] >= age].sort_values("_month", kind="stable").tail(params.max_rows)
        days = round(age * length * DAYS_PER_PERIOD, 1)
        point = {"age_periods": age, "age_days": days, "train_rows": len(window)}
        if len(window) < params.min_rows:
            break  # older windows are smaller still
        point |= {"train_from": _label(window["_month"].min()), "train_to": _label(window["_month"].max())}
        y = window[target]
        if info["task"] == "classification" and y.nunique() < 2:
            points.append({**point, "value": None, "note": "one class in the window"})
            continue
        fitted = clone(model).fit(to_model_frame(df.iloc[window.index], features), y.to_numpy())
        scored = score(fitted, X_scored, scored_rows[target], info["task"], info.get("classes"))
        points.append({**point, "value": metric_value(scored, metric)})
    if not any(p["value"] is not None for p in points):
        return off(f"fewer than {params.min_rows} labelled rows before the newest period (to {_label(newest)})")
    age, dropped = max_age(points, metric, params.tolerance)
    return {
        "enabled": True,
        "time_column": column,
        "period_months": length,
        "metric": metric,
        "tolerance": params.tolerance,
        "scored_on": f"{_label(newest - length + 1)} .. {_label(newest)}",
        "scored_rows": len(scored_rows),
        "points": points,
        "dropped": dropped,  # False: the metric held for every age measured, so the advised age is a lower bound
        "max_age_periods": age,
        "max_age_days": None if age is None else round(age * length * DAYS_PER_PERIOD, 1),
    }


def card(data: dict[str, Any]) -> list[str]:
    """The model card's staleness section: table, a bar per age, and the advised maximum age."""
    if not data.get("enabled"):
        return [f"Not measured: {data.get('reason', 'off')}."]
    values = [p["value"] for p in data["points"] if p["value"] is not None]
    low, high = min(values), max(values)
    lines = [
        f"`{data['metric']}` on the newest {data['period_months']}-month period ({data['scored_on']}, "
        f"{data['scored_rows']} rows) of a model trained on data up to k periods earlier (the same configuration, "
        "refitted):",
        "",
        "| age (periods) | age (days) | trained on | rows | " + data["metric"] + " | |",
        "|---|---|---|---|---|---|",
    ]
    for p in data["points"]:
        value = p["value"]
        # from 1 block at the lowest value to 20 at the highest: the shape of the curve
        bar = "" if value is None else "█" * (1 + round(19 * (value - low) / (high - low or 1.0)))
        shown = p.get("note", "n/a") if value is None else f"{value:.4f}"
        lines.append(
            f"| {p['age_periods']} | {p['age_days']:g} | {p.get('train_from', '')} .. {p.get('train_to', '')} | "
            f"{p['train_rows']} "
            f"| {shown} | {bar} |"
        )
    days = data["max_age_days"]
    how = (
        f"the metric drops by more than {data['tolerance']:g} after {data['max_age_periods']} period(s)"
        if data["dropped"]
        else f"the metric held within {data['tolerance']:g} for every age measured (a lower bound)"
    )
    lines += ["", f"**Maximum model age: {days:g} days**: {how}; `mlctl monitor` flags an older model."]
    return lines
