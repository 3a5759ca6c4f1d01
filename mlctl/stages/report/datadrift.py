"""Drift of this revision's training data against the base revision's (same tests as `mlctl monitor`)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.model.features import Feature
    from mlctl.stages.report.revisions import Base


@dataclass
class DataDrift:
    """Per-feature drift findings, or why there are none."""

    path: str
    available: bool
    reason: str | None = None
    base_rows: int | None = None
    this_rows: int | None = None
    identical: bool = False
    features: list[dict[str, Any]] = field(default_factory=list)

    @property
    def drifted(self) -> list[str]:
        return [f["feature"] for f in self.features if f["drifted"]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "available": self.available,
            "reason": self.reason,
            "base_rows": self.base_rows,
            "this_rows": self.this_rows,
            "identical": self.identical,
            "drifted": self.drifted,
            "features": self.features,
        }


def read_base_table(base: Base, path: str) -> pd.DataFrame:
    """The table ``path`` as it is at the base: from git if committed, else through DVC (cache or remote)."""
    import pandas as pd

    from mlctl.core.fileio import table_format

    raw = base.show(path)
    if raw is None:
        import dvc.api

        # dvc.api.open reads dvc.lock / .dvc files at the revision and the object from the cache or remote
        with dvc.api.open(path, repo=str(base.root), rev=base.commit, mode="rb") as fh:
            raw = fh.read()
    fmt = table_format(path)
    buf = io.BytesIO(raw)
    if fmt == "parquet":
        return pd.read_parquet(buf)
    if fmt == "jsonl":
        return pd.read_json(buf, lines=True)
    return pd.read_csv(buf)


def compare(
    base: Base,
    path: str,
    current: Path,
    features: list[Feature] | None,
    target: str,
    *,
    psi: float,
    p_value: float,
    bins: int,
) -> DataDrift:
    """Drift tests per feature between the base's ``path`` and this revision's ``current`` file."""
    from mlctl.core.errors import MlctlError
    from mlctl.core.fileio import frame_hash, read_table
    from mlctl.data.drift import Thresholds
    from mlctl.model.features import infer_features
    from mlctl.stages.monitor.analysis import compare_frames

    if not current.exists():
        return DataDrift(path, False, f"{path} does not exist in this revision (run the pipeline first)")
    try:
        this = read_table(current)
    except MlctlError as exc:
        return DataDrift(path, False, f"cannot read {path} here: {exc.message}")
    try:
        old = read_base_table(base, path)
    except Exception as exc:  # dvc raises many types (no lock entry, not in cache, no remote): all mean "unavailable"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return DataDrift(
            path,
            False,
            f"the base's {path} is not available ({reason[:200]}); "
            "to compare, make it reachable: commit dvc.lock on the base and `dvc push` its data to the remote",
            this_rows=len(this),
        )
    usable = [f for f in (features or []) if f.name in this.columns and f.name in old.columns]
    if not usable:
        common = old[[c for c in this.columns if c in old.columns]]
        usable = infer_features(this[common.columns], target) if target in common.columns else []
    result = DataDrift(path, True, base_rows=len(old), this_rows=len(this))
    if not usable:
        result.reason = "no feature columns in common"
        return result
    names = [f.name for f in usable]
    result.identical = len(old) == len(this) and frame_hash(old[names]) == frame_hash(this[names])
    th = Thresholds(p_value=p_value, psi=psi)
    findings = compare_frames(old, this, usable, th, bins=bins)
    result.features = [f.to_dict() for f in sorted(findings, key=lambda f: (not f.drifted, -_num(f.psi)))]
    return result


def _num(value: float | None) -> float:
    import math

    return value if value is not None and math.isfinite(value) else 0.0
