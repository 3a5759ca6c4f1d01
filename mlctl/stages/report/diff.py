"""Metric and param differences between the base revision and this one (pure functions).

Metrics are flattened the way `dvc metrics diff` does (dotted keys to numeric
leaves), except that lists of records are kept too, labelled by their name
(``candidates[random_forest].cv_mean``, ``slices[black=yes].metrics.f1``)
rather than dropped, so per-slice metrics show up in the diff.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from mlctl.model.metrics import CLASSIFICATION_METRICS, LOWER_IS_BETTER, REGRESSION_METRICS

# sklearn's scorers are all higher-is-better (errors are negated), so a CV score is too
HIGHER_IS_BETTER = {*CLASSIFICATION_METRICS, *REGRESSION_METRICS, "cv_score", "cv_mean"} - LOWER_IS_BETTER
EPS = 1e-12  # differences below this are float noise: "same"


@dataclass
class MetricRow:
    """One metric at the base and here."""

    file: str
    key: str
    base: float | None
    this: float | None
    direction: str | None  # "higher" | "lower" | None (not a score: rows, seconds...)

    @property
    def delta(self) -> float | None:
        return None if self.base is None or self.this is None else self.this - self.base

    @property
    def relative(self) -> float | None:
        """Change in percent of the base value (None when the base is 0 or missing)."""
        d = self.delta
        return None if d is None or not self.base else 100.0 * d / abs(self.base)

    @property
    def changed(self) -> bool:
        d = self.delta
        return (self.base is None) != (self.this is None) or (d is not None and abs(d) > EPS)

    @property
    def verdict(self) -> str:
        """better | worse | same | changed (no direction) | new | removed."""
        if self.base is None and self.this is None:
            return "same"
        if self.base is None:
            return "new"
        if self.this is None:
            return "removed"
        d = self.delta
        if abs(d) <= EPS:
            return "same"
        if self.direction is None:
            return "changed"
        return "better" if (d > 0) == (self.direction == "higher") else "worse"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "delta": self.delta, "relative": self.relative, "verdict": self.verdict}


@dataclass
class ParamRow:
    """One changed key of params.yaml."""

    key: str
    base: Any
    this: Any
    change: str  # added | removed | modified

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def direction(key: str) -> str | None:
    """The direction of the metric a dotted key ends in (``model.roc_auc`` → higher), searched from the end."""
    for part in reversed(re.split(r"[.\[\]]", key)):
        if part in LOWER_IS_BETTER:
            return "lower"
        if part in HIGHER_IS_BETTER:
            return "higher"
    return None


def _label(item: dict, index: int) -> str:
    if "name" in item and not isinstance(item["name"], (dict, list)):
        return str(item["name"])
    if "column" in item and "kind" in item:  # a validation finding: column and what is wrong with it
        return f"{item['column']}:{item['kind']}"
    if "column" in item and "value" in item:  # a slice: column=level
        return f"{item['column']}={item['value']}"
    return str(index)


def flatten_metrics(obj: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a metrics document as {dotted.key: value} (booleans and text left out)."""
    out: dict[str, float] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten_metrics(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            if isinstance(item, dict):
                out.update(flatten_metrics(item, f"{prefix}[{_label(item, i)}]"))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool) and math.isfinite(obj):
        out[prefix] = float(obj)
    return out


def metric_rows(file: str, base: Any, this: Any) -> list[MetricRow]:
    """Every metric of one file, in this revision's order, then those only the base has."""
    old, new = flatten_metrics(base) if base is not None else {}, flatten_metrics(this) if this is not None else {}
    keys = [*new, *(k for k in old if k not in new)]
    return [MetricRow(file, k, old.get(k), new.get(k), direction(k)) for k in keys]


def metric_files(dvc_yaml: Any) -> list[str]:
    """The metrics files declared in a dvc.yaml document (stages' ``metrics:`` entries), in order."""
    files: list[str] = []
    stages = dvc_yaml.get("stages") if isinstance(dvc_yaml, dict) else None
    for stage in (stages or {}).values():
        for entry in (stage or {}).get("metrics") or []:
            names = [entry] if isinstance(entry, str) else list(entry) if isinstance(entry, dict) else []
            files.extend(n for n in names if isinstance(n, str) and n not in files)
    return files


def flatten_params(obj: Any, prefix: str = "") -> dict[str, Any]:
    """params.yaml as {dotted.key: value}; lists stay whole values (as `dvc params diff` shows them)."""
    if isinstance(obj, dict) and obj:
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(flatten_params(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: obj} if prefix else {}


def param_rows(base: Any, this: Any) -> list[ParamRow]:
    """Changed, added and removed keys between two params documents."""
    old, new = flatten_params(base or {}), flatten_params(this or {})
    rows = []
    for key in [*new, *(k for k in old if k not in new)]:
        if key not in old:
            rows.append(ParamRow(key, None, new[key], "added"))
        elif key not in new:
            rows.append(ParamRow(key, old[key], None, "removed"))
        elif _canon(old[key]) != _canon(new[key]):
            rows.append(ParamRow(key, old[key], new[key], "modified"))
    return rows


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
