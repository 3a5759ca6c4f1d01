"""Stage `train`: search every candidate with cross-validation, refit the winner, save it.

The search cross-validates on the train split only. The winner is then refit
once on train + validation (``train.refit_on_validation``, default true):
the hyperparameters were chosen without the validation rows, and the final
model gets every row that is not held out for the test set. The pure core
(DataFrames in, estimators out) is ``mlctl.stages.train.training``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import DataError, InputNotFoundError
from mlctl.core.progress import Progress
from mlctl.core.provenance import package_versions
from mlctl.repo.git import head_commit
from mlctl.stages.train.search import method_of
from mlctl.stages.train.training import fit, select_features

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.core.project import Project
    from mlctl.params import Common
    from mlctl.params.train import TrainParams


@dataclass
class TrainResult:
    """What `mlctl train` wrote and the report (models/train.json) it wrote."""

    model_path: Path
    baseline_path: Path
    report_path: Path
    results_path: Path
    report: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": str(self.model_path),
            "baseline": str(self.baseline_path),
            "report": str(self.report_path),
            "search_results": str(self.results_path),
            **self.report,
        }


def read_split(project: Project, params: TrainParams, split: str) -> pd.DataFrame:
    """One processed split; a missing one points at `mlctl prepare`."""
    from mlctl.core.fileio import read_table

    path = project.path(Path(params.input_dir) / f"{split}.parquet", what="train.input_dir")
    if not path.exists():
        raise InputNotFoundError(
            f"processed {split} split not found", where=project.rel(path), hint="run `mlctl prepare` first"
        )
    return read_table(path)


def personal_columns(schema_path: Path | None, declared: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Columns marked as personal data: in params (validate.personal_data) or the schema file."""
    found = list(declared)
    if schema_path is not None and Path(schema_path).exists():
        try:
            from mlctl.data.schema import personal_columns as from_schema
        except ImportError:  # the schema module is optional for training
            from_schema = None
        if from_schema is not None:
            found += [c for c in from_schema(schema_path) if c not in found]
    return found


def run(
    params: TrainParams,
    common: Common,
    project: Project,
    progress: Progress | None = None,
    *,
    schema_path: Path | None = None,
    personal_data: list[str] | tuple[str, ...] = (),
) -> TrainResult:
    """Train from data/processed into train.model_dir (model, baseline, report, search results).

    ``schema_path`` (validate.schema_path) and ``personal_data`` (validate.personal_data)
    name the personal-data columns, which are never features.
    """
    import pandas as pd

    from mlctl.core.fileio import frame_hash, save_skops, write_json, write_table

    train = read_split(project, params, "train")
    validation = read_split(project, params, "validation")
    where = project.rel(project.path(Path(params.input_dir) / "train.parquet"))
    if train.empty:
        raise DataError("the train split has no rows", where=where, hint="check prepare's split sizes and filters")
    personal = personal_columns(schema_path, personal_data)
    features = select_features(train, common.target, params, personal)
    trained = fit(
        train,
        validation,
        features=features,
        target=common.target,
        task=common.task,
        params=params,
        seed=common.seed,
        progress=progress,
        where=where,
    )
    sp = params.search
    report = {
        "task": common.task,
        "target": common.target,
        "features": [f.to_dict() for f in features],
        "classes": trained.classes,
        "best": {"candidate": trained.best.name, "params": trained.best.best_params, "cv_score": trained.best.cv_mean},
        "candidates": [c.to_dict() for c in trained.candidates],
        "scoring": trained.scoring,
        "search": {
            "method": method_of(sp),
            "cv": sp.cv,
            "n_iter": sp.n_iter,
            "backend": sp.backend,
            "budget_s": sp.budget_s,
            "draws": sum(c.draws for c in trained.candidates),
            "skipped_for_budget": sum(c.skipped for c in trained.candidates),
        },
        "search_seconds": round(trained.search_seconds, 3),
        "train_rows": len(train),
        "fit_rows": trained.fit_rows,
        "refit_on": ["train", "validation"] if trained.fit_rows > len(train) else ["train"],
        "excluded": {
            "forbidden": [c for c in params.forbidden if c in train.columns],
            "personal": [c for c in personal if c in train.columns],
        },
        "data_hash": frame_hash(train),
        "packages": package_versions(),
        "seed": common.seed,
        "git_commit": head_commit(project.root),
    }
    out_dir = project.path(params.model_dir, what="train.model_dir")
    rows = [row for c in trained.candidates for row in c.rows]
    # Everything is computed before the first write, so a failure leaves no partial output.
    model_path = save_skops(trained.model, out_dir / "model.skops")
    baseline_path = save_skops(trained.baseline, out_dir / "baseline.skops")
    results_path = write_table(pd.DataFrame(rows), out_dir / "search_results.csv")
    report_path = write_json(out_dir / "train.json", report)
    return TrainResult(model_path, baseline_path, report_path, results_path, report)
