"""Infer the task from the target and each column's role (feature, date, or excluded and why).

Pure functions over a DataFrame: `mlctl init` shows the result, lets the user
change it, and writes it into params.yaml with the reasons as comments.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlctl.stages.init.personal import detect as detect_personal
from mlctl.stages.init.personal import protected

if TYPE_CHECKING:
    import pandas as pd

# Where an excluded or special column goes in params.yaml.
DROP = "prepare.drop_columns"  # removed before the split: not even a candidate feature
FORBIDDEN = "train.forbidden"  # kept in the data (for analysis), never a model input
DATES = "prepare.date_columns"  # parsed and expanded into year/month/dayofweek features
PERSONAL = "validate.personal_data"  # personal data: marked in the schema, refused by train
MIN_PERSONAL_LEVELS = 10  # a column with fewer distinct values identifies nobody (e.g. an is_mobile flag)

MAX_CLASS_INTEGERS = 10  # an integer target with at most this many values is a class label
NEAR_EMPTY = 0.95  # a column missing in more than this share of rows carries too little signal
MANY_LEVELS = 30  # a categorical with more levels is "high-cardinality"
IMBALANCED = 0.2  # minority class share below this: an imbalanced target
ID_NAME = re.compile(r"(?i)(^id$|[_\s.-]id$|^id[_\s.-]|[a-z]Id$|uuid|guid|^index$|^row_?(num|number|no)$)")
DATE_LIKE = re.compile(r"^\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}.*)?\s*$")


@dataclass
class ColumnRole:
    """One column: its role, how it will be used and why."""

    name: str
    role: (
        str  # feature | date | id | text | constant | empty | leak | personal | protected | high_cardinality | excluded
    )
    kind: str  # numeric | boolean | categorical | datetime | text | empty
    reason: str = ""
    where: str | None = None  # DROP, FORBIDDEN, DATES or None (an ordinary feature)
    n_unique: int = 0
    null_share: float = 0.0
    sensitive: bool = False  # named with --sensitive: the attribute fairness is measured over

    @property
    def excluded(self) -> bool:
        return self.where in (DROP, FORBIDDEN, PERSONAL)

    def to_dict(self) -> dict:
        return {**asdict(self), "excluded": self.excluded}


@dataclass
class TargetInfo:
    """The target column: the task it implies and its class balance."""

    task: str
    reason: str
    n_classes: int = 0
    classes: list[str] = field(default_factory=list)
    minority_share: float | None = None
    imbalanced: bool = False
    min_class_count: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def _numeric_values(y: pd.Series) -> pd.Series | None:
    """``y`` (non-missing) as numbers if every value is one, else None."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(y):
        return None
    if pd.api.types.is_numeric_dtype(y):
        return y.astype("float64")
    numbers = pd.to_numeric(y.astype(str).str.strip(), errors="coerce")
    return numbers if numbers.notna().all() else None


def infer_task(y: pd.Series) -> tuple[str, str]:
    """('classification' | 'regression', why): text or few distinct integers → classification."""
    values = y.dropna()
    numbers = _numeric_values(values)
    if numbers is None:
        shown = ", ".join(repr(str(v)) for v in values.unique()[:3])
        return "classification", f"the target holds labels ({shown}...)"
    distinct = numbers.nunique()
    if bool((numbers % 1 == 0).all()) and distinct <= MAX_CLASS_INTEGERS:
        return "classification", f"the target has {distinct} distinct integer values"
    return "regression", f"the target is numeric with {distinct} distinct values"


def describe_target(y: pd.Series, task: str, reason: str) -> TargetInfo:
    """Class counts and balance for classification; just the task for regression."""
    info = TargetInfo(task=task, reason=reason)
    if task != "classification":
        return info
    counts = y.dropna().astype(str).value_counts()
    info.n_classes = len(counts)
    info.classes = [str(c) for c in counts.index[:20]]
    if len(counts):
        info.minority_share = float(counts.iloc[-1] / counts.sum())
        info.min_class_count = int(counts.iloc[-1])
        info.imbalanced = info.minority_share < IMBALANCED
    return info


def _is_text(col: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_string_dtype(col) or pd.api.types.is_object_dtype(col)


def _leak(col: pd.Series, y: pd.Series) -> str | None:
    """Why ``col`` is the target in disguise (a copy, a relabelling, a rescaling), or None."""
    import numpy as np

    both = col.notna() & y.notna()
    if both.sum() < 10:
        return None
    a, b = col[both], y[both]
    # A copy or a one-to-one relabelling has as many distinct values as the target: when the counts
    # differ, skip the text comparisons (on a million rows, converting each column to text takes seconds).
    same_levels = a.nunique() == b.nunique()
    if same_levels and (a.astype(str).to_numpy() == b.astype(str).to_numpy()).all():
        return "an exact copy of the target (leakage: unavailable when predicting)"
    if b.nunique() <= 0.5 * len(b):  # a one-to-one mapping only means something when labels repeat
        if not same_levels:
            return None
        a_s, b_s = a.astype(str), b.astype(str)
        if a_s.groupby(b_s).nunique().max() == 1 and b_s.groupby(a_s).nunique().max() == 1:
            return "a one-to-one relabelling of the target (leakage: unavailable when predicting)"
        return None
    xa, xb = _numeric_values(a), _numeric_values(b)
    rescaled = xa is not None and xb is not None and xa.std() > 0 and xb.std() > 0
    if rescaled and abs(float(np.corrcoef(xa, xb)[0, 1])) > 0.9999:
        return "a rescaled copy of the target (correlation 1.0: leakage)"
    return None


def _is_date_text(col: pd.Series) -> bool:
    from mlctl.core.errors import DataError
    from mlctl.data.cleaning import parse_dates

    sample = col.dropna().astype(str).head(200)
    if sample.empty or not sample.str.match(DATE_LIKE).all():
        return False
    try:
        parse_dates(col, str(col.name))
    except DataError:
        return False
    return True


def classify(col: pd.Series, y: pd.Series) -> ColumnRole:
    """The role of one (already type-coerced) column next to the target ``y``."""
    import pandas as pd

    name, n = str(col.name), len(col)
    present = col.dropna()
    nulls = 1 - len(present) / n if n else 1.0
    distinct = int(present.nunique())
    text = _is_text(col)
    kind = (
        "empty"
        if present.empty
        else "boolean"
        if pd.api.types.is_bool_dtype(col)
        else "datetime"
        if pd.api.types.is_datetime64_any_dtype(col)
        else "numeric"
        if pd.api.types.is_numeric_dtype(col)
        else "categorical"
    )
    role = ColumnRole(name, "feature", kind, n_unique=distinct, null_share=round(nulls, 4))

    def out(kind_: str, where: str, reason: str) -> ColumnRole:
        role.role, role.where, role.reason = kind_, where, reason
        return role

    if nulls > NEAR_EMPTY:
        return out("empty", DROP, f"near-empty: {nulls:.0%} of values missing")
    if distinct <= 1:
        return out("constant", DROP, f"constant: the single value {str(present.iloc[0])[:30]!r}")
    if distinct >= MIN_PERSONAL_LEVELS and (why := detect_personal(col)):
        return out("personal", PERSONAL, f"personal data: {why}")
    if why := _leak(col, y):
        return out("leak", FORBIDDEN, why)
    if attribute := protected(col):
        reason = f"a protected attribute: {attribute}; never a feature, the groups fairness is measured over"
        return out("protected", FORBIDDEN, reason)
    if kind == "datetime" or (text and _is_date_text(col)):
        role.kind = "datetime"
        return out("date", DATES, "a date: expanded into year, month and day-of-week features")
    unique_per_row = distinct == len(present) and len(present) >= 20
    share = distinct / max(len(present), 1)
    if ID_NAME.search(name) and share >= 0.5:
        return out("id", DROP, f"an identifier: the name looks like an ID and {share:.0%} of values are unique")
    monotonic = kind == "numeric" and (present.is_monotonic_increasing or present.is_monotonic_decreasing)
    if monotonic and unique_per_row and bool((present % 1 == 0).all()):
        return out("id", DROP, "an identifier: a monotonic integer, unique per row")
    if text:
        words = present.astype(str)
        mean_len = float(words.str.len().mean())
        mean_words = float(words.str.split().str.len().mean())
        if share > 0.5 and (mean_len >= 25 or mean_words >= 3):
            role.kind = "text"
            return out(
                "text",
                DROP,
                f"free text: {share:.0%} unique values, {mean_len:.0f} characters on average "
                "(mlctl does not vectorise text)",
            )
        if unique_per_row:
            return out("id", DROP, "an identifier: a different value on every row")
        if distinct > MANY_LEVELS and share > 0.5:
            return out(
                "high_cardinality",
                DROP,
                f"high-cardinality categorical: {distinct} levels for {len(present)} rows ({share:.0%} unique): "
                "too few rows per level to learn from",
            )
        if distinct > MANY_LEVELS:
            role.role = "high_cardinality"
            role.reason = f"{distinct} levels: kept; rare levels are grouped (train.preprocess.max_categories)"
    return role


def analyse(
    df: pd.DataFrame, target: str, *, exclude: list[str] = (), keep: list[str] = (), sensitive: list[str] = ()
) -> list[ColumnRole]:
    """Every column but the target, with its role; ``exclude``/``keep``/``sensitive`` override the inference."""
    from mlctl.data.cleaning import coerce_types

    coerced, _ = coerce_types(df, date_columns=[], keep=[target])
    y = coerced[target]
    roles = []
    for name in coerced.columns:
        if name == target:
            continue
        role = classify(coerced[name], y)
        if name in exclude and not role.excluded:
            role.role, role.where, role.reason = "excluded", DROP, "excluded on request (--exclude)"
        elif name in keep and role.excluded:
            role.role, role.where, role.reason = "feature", None, f"kept on request (--keep); was: {role.reason}"
        if name in sensitive:
            role.role, role.where, role.sensitive = "protected", FORBIDDEN, True
            role.reason = "a protected attribute named with --sensitive: never a feature, fairness is measured over it"
        roles.append(role)
    return roles


@dataclass
class Analysis:
    """What init inferred from the data (shown to the user before anything is written)."""

    data: Path | str  # a file, or the URL of a SQL database / HTTP(S) file (then ``remote`` says how to read it)
    fmt: str
    rows: int
    columns: int
    target: str
    target_info: TargetInfo
    roles: list[ColumnRole]
    frame: pd.DataFrame = field(repr=False)
    remote: dict[str, str] | None = None  # the collect source entry (url, query) when the data is not a file
    fairness: bool = True  # False (--no-sensitive): no fairness gap is measured

    @property
    def excluded(self) -> list[ColumnRole]:
        return [r for r in self.roles if r.excluded]

    @property
    def features(self) -> list[ColumnRole]:
        return [r for r in self.roles if not r.excluded]

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": str(self.data),
            "format": self.fmt,
            "rows": self.rows,
            "columns": self.columns,
            "target": self.target,
            **self.target_info.to_dict(),
            "roles": [r.to_dict() for r in self.roles],
        }
