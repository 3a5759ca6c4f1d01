"""`prepare`: clean data/raw, derive date features, split, and write the EDA report.

Reads ``prepare.input``; writes ``{output_dir}/{train,validation,test}.parquet``,
``{output_dir}/manifest.json`` and the EDA report (``eda_html``, ``eda_md``).
Everything is computed before the first file is written, so a failure leaves
no partial output.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import ConfigError, DataError, InputNotFoundError

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.core.progress import Progress
    from mlctl.core.project import Project
    from mlctl.params import Common
    from mlctl.params.prepare import PrepareParams

SPLITS = ("train", "validation", "test")


@dataclass
class Prepared:
    """The pure result of cleaning and splitting (nothing written yet)."""

    frames: dict[str, pd.DataFrame]  # train / validation / test, features + target
    cleaned: pd.DataFrame  # all kept rows, as the splits hold them (for the EDA)
    rows: dict[str, int]
    dropped: dict[str, int]
    coerced: dict[str, str]
    date_features: dict[str, list[str]]
    notes: list[str] = field(default_factory=list)


@dataclass
class PrepareResult:
    """What `mlctl prepare` did."""

    rows: dict[str, int]
    dropped: dict[str, int]
    files: dict[str, str]
    manifest: str
    reports: dict[str, str]
    date_features: dict[str, list[str]]
    notes: list[str]
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def _check_config(df: pd.DataFrame, params: PrepareParams, common: Common, source: str) -> None:
    """Every column params names must exist; the target may not be dropped or expanded."""
    from mlctl.data.cleaning import nearest, require_columns

    if common.target not in df.columns:
        raise ConfigError(
            f"target column {common.target!r} is not in the data",
            where=source,
            hint=f"set `target:` in params.yaml; {nearest(common.target, list(df.columns))}",
        )
    for key in ("drop_columns", "date_columns"):
        if common.target in getattr(params, key):
            raise ConfigError(f"the target {common.target!r} is listed in prepare.{key}", hint="remove it from there")
        require_columns(df, getattr(params, key), key=f"prepare.{key}", where=source)
    split = params.split
    if split.method == "group":
        require_columns(df, [split.group_column], key="prepare.split.group_column", where=source)
    if split.method == "time":
        require_columns(df, [split.time_column], key="prepare.split.time_column", where=source)
    if split.method == "stratified" and common.task != "classification":
        raise ConfigError(
            "split method 'stratified' needs task: classification",
            where="params.yaml: prepare.split.method",
            hint="use method: random (or group/time) for regression",
        )


def _check_target(df: pd.DataFrame, common: Common) -> None:
    """A classification target needs two classes of labels; a regression target numbers."""
    import pandas as pd

    y = df[common.target]
    if common.task == "regression":
        if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
            examples = [str(v) for v in y.dropna().unique()[:3]]
            raise DataError(
                f"regression target {common.target!r} is not numeric (values like {examples})",
                where=common.target,
                hint="set `task: classification` in params.yaml, or fix the values",
            )
        return
    classes = y.unique()
    if len(classes) < 2:  # rows with a missing target are gone and the frame is not empty: one class
        raise DataError(
            f"classification target {common.target!r} has a single class {classes[0]!r}",
            where=common.target,
            hint="a classifier needs at least two classes: check the data or the target column",
        )
    if pd.api.types.is_float_dtype(y) and not (y % 1 == 0).all():
        raise DataError(
            f"classification target {common.target!r} has non-integer numbers ({len(classes)} distinct values)",
            where=common.target,
            hint="set `task: regression` in params.yaml",
        )


def prepare_frame(raw: pd.DataFrame, params: PrepareParams, common: Common, source: str = "data") -> Prepared:
    """Clean ``raw``, split it with ``common.seed`` and derive date features (pure, no I/O)."""
    from mlctl.data import cleaning
    from mlctl.stages.prepare.split import split_frame

    _check_config(raw, params, common, source)
    keep = [common.target] if common.task == "classification" else []
    df, coercion = cleaning.coerce_types(raw, date_columns=list(params.date_columns), keep=keep)
    notes = list(coercion.notes)
    rows = {"input": len(raw)}
    dropped = {}
    if params.drop_duplicates:
        df, dropped["duplicates"] = cleaning.drop_duplicates(df, ignore=params.drop_columns)
    df, dropped["missing_target"] = cleaning.drop_missing(df, common.target)
    split = params.split
    if split.method == "time":
        if not _is_orderable(df[split.time_column]):
            df[split.time_column] = cleaning.parse_dates(df[split.time_column], split.time_column)
        df, dropped["missing_time"] = cleaning.drop_missing(df, split.time_column)
    if df.empty:
        raise DataError("no rows left after cleaning", where=source, hint=f"rows dropped: {dropped}")
    _check_target(df, common)
    df = df.reset_index(drop=True)
    parts = split_frame(
        df,
        method=split.method,
        test_size=split.test_size,
        validation_size=split.validation_size,
        seed=common.seed,
        target=common.target,
        group_column=split.group_column,
        time_column=split.time_column,
    )
    for name in coercion.detected_dates:
        notes.append(f"{name}: datetime column not in prepare.date_columns; expanded into {list(params.date_parts)}")
    date_cols = [*params.date_columns, *coercion.detected_dates]
    df, derived = cleaning.date_features(df, date_cols, list(params.date_parts))
    df = df.drop(columns=list(params.drop_columns))
    frames = {name: df.iloc[pos].reset_index(drop=True) for name, pos in parts.parts().items()}
    rows.update({"after_cleaning": len(df), **{name: len(f) for name, f in frames.items()}})
    return Prepared(frames, df, rows, dropped, coercion.converted, derived, notes)


def _is_orderable(col: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(col) or pd.api.types.is_datetime64_any_dtype(col)


def build_manifest(prep: Prepared, params: PrepareParams, common: Common, files: dict[str, str]) -> dict[str, Any]:
    """data/processed/manifest.json: what was kept, dropped, derived, and each split's hash."""
    from mlctl.core.fileio import frame_hash

    train = prep.frames["train"]
    manifest: dict[str, Any] = {
        "input": params.input,
        "target": common.target,
        "task": common.task,
        "seed": common.seed,
        "split": params.split.model_dump(mode="json"),
        "rows": prep.rows,
        "dropped": prep.dropped,
        "dropped_columns": list(params.drop_columns),
        "coerced": prep.coerced,
        "date_features": prep.date_features,
        "notes": prep.notes,
        "columns": [{"name": str(c), "dtype": str(t)} for c, t in train.dtypes.items()],
        "features": [str(c) for c in train.columns if c != common.target],
    }
    if common.task == "classification":
        classes = sorted(prep.cleaned[common.target].unique().tolist(), key=str)
        manifest["classes"] = classes
        manifest["class_counts"] = {
            name: {str(k): int(v) for k, v in f[common.target].value_counts().reindex(classes, fill_value=0).items()}
            for name, f in prep.frames.items()
        }
    manifest["data_hash"] = {name: frame_hash(f) for name, f in prep.frames.items()}
    manifest["files"] = files
    return manifest


def eda_context(prep: Prepared, params: PrepareParams, common: Common, manifest: dict) -> dict[str, Any]:
    """Facts from this run that the EDA report shows next to the data's own profile."""
    import pandas as pd

    total = max(prep.rows["after_cleaning"], 1)
    splits = pd.DataFrame([{"split": s, "rows": prep.rows[s], "share": round(prep.rows[s] / total, 4)} for s in SPLITS])
    facts = {"rows (input)": prep.rows["input"], "split method": params.split.method, "seed": common.seed}
    facts.update({f"dropped: {k.replace('_', ' ')}": v for k, v in prep.dropped.items()})
    notes = list(prep.notes)
    notes += [f"{c}: derived {', '.join(v)}; the raw date column is dropped" for c, v in prep.date_features.items()]
    notes += [f"{c}: converted to {kind}" for c, kind in prep.coerced.items() if kind != "datetime"]
    if params.drop_columns:
        notes.append(f"dropped columns: {', '.join(params.drop_columns)}")
    class_counts = None
    if "class_counts" in manifest:
        class_counts = pd.DataFrame(manifest["class_counts"])
        class_counts.index.name = "class"
    return {"facts": facts, "splits": splits, "class_counts": class_counts, "notes": notes}


def run(params: PrepareParams, common: Common, project: Project, progress: Progress | None = None) -> PrepareResult:
    """Clean and split ``prepare.input``; write the splits, their manifest and the EDA report."""
    from mlctl.core import fileio as io
    from mlctl.core.progress import NoProgress
    from mlctl.stages.prepare.eda import explore
    from mlctl.stages.prepare.eda_report import render_html, render_markdown

    started = time.perf_counter()
    progress = progress or NoProgress()
    source = project.path(params.input, what="prepare.input")
    if not source.exists():
        raise InputNotFoundError("input data not found", where=project.rel(source), hint="run `mlctl collect` first")
    progress.start("prepare", total=4)
    raw = io.read_table(source)
    prep = prepare_frame(raw, params, common, source=project.rel(source))
    del raw  # the cleaned frame and its splits are what is left to hold
    progress.advance()
    out_dir = project.path(params.output_dir, what="prepare.output_dir")
    paths = {name: out_dir / f"{name}.parquet" for name in SPLITS}
    files = {name: project.rel(p) for name, p in paths.items()}
    manifest = build_manifest(prep, params, common, files)
    eda = explore(
        prep.cleaned,
        common.target,
        common.task,
        seed=common.seed,
        max_rows=params.eda_max_rows,
        max_features=params.eda_max_features,
    )
    context = eda_context(prep, params, common, manifest)
    html, md = render_html(eda, context), render_markdown(eda, context)
    progress.advance()
    for name, path in paths.items():
        io.write_table(prep.frames[name], path)
    progress.advance()
    html_path = project.path(params.eda_html, what="prepare.eda_html")
    md_path = project.path(params.eda_md, what="prepare.eda_md")
    io.write_text(html_path, html)
    io.write_text(md_path, md)
    manifest_path = io.write_json(out_dir / "manifest.json", manifest)  # last: its presence means complete
    progress.advance()
    progress.done()
    return PrepareResult(
        rows=prep.rows,
        dropped=prep.dropped,
        files=files,
        manifest=project.rel(manifest_path),
        reports={"html": project.rel(html_path), "md": project.rel(md_path)},
        date_features=prep.date_features,
        notes=prep.notes,
        seconds=round(time.perf_counter() - started, 3),
    )
