"""The data contract: a pandera schema (reviewable YAML in git) and a reference profile.

``mlctl schema infer`` derives both from reference data: the schema holds
columns, dtypes, nullability, numeric ranges, allowed categories, declared
uniqueness and personal-data marks; the profile (JSON) holds the statistics
that ``mlctl validate`` compares new data against (null rates, quantiles,
histogram, level shares).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import ConfigError, DataError, InputNotFoundError

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

    from mlctl.core.progress import Progress
    from mlctl.core.project import Project
    from mlctl.params import Common
    from mlctl.params.validate import ValidateParams

PERSONAL_MARK = "personal data"  # column description prefix; train refuses these columns
INFER_HINT = "run `mlctl schema infer` to write it from the reference data, review it and commit it"
_HEADER = (
    "# The data contract: a pandera DataFrameSchema written by `mlctl schema infer`.\n"
    "# Review it and commit it; edit ranges, categories or nullability when the contract differs.\n"
    "# Load with mlctl.data.schema.load_schema (or pandera.io.pandas_io.from_yaml).\n"
)


@dataclass
class Inferred:
    """A schema and its reference profile, inferred together from one frame."""

    schema: pa.DataFrameSchema
    profile: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


@dataclass
class SchemaResult:
    """What `mlctl schema infer` wrote."""

    schema: str
    profile: str
    reference: str
    rows: int
    columns: list[dict[str, Any]]
    warnings: list[str]
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def _scalar(value: Any, integer: bool) -> int | float:
    return int(value) if integer else float(value)


def _analyse(s: pd.Series, max_categories: int, bins: int) -> tuple[dict, dict, list[str]]:
    """One column: (schema column keyword arguments, profile entry, warnings)."""
    import numpy as np
    import pandas as pd
    import pandera.pandas as pa
    from pandera.engines import pandas_engine

    from mlctl.data.profiling import numeric_profile, shares

    name, n = str(s.name), len(s)
    isna = s.isna()
    nulls = int(isna.sum())
    col = {"dtype": str(pandas_engine.Engine.dtype(s.dtype)), "nullable": nulls > 0, "checks": []}
    prof: dict[str, Any] = {"dtype": str(s.dtype), "kind": "empty", "null_rate": nulls / n if n else 0.0}
    notes: list[str] = []
    values = s[~isna] if nulls else s
    if len(values) == 0:
        notes.append(f"column {name!r} is entirely null: it carries no information")
        return col, prof, notes
    if pd.api.types.is_bool_dtype(s):
        prof.update(kind="boolean", levels=shares(values.value_counts()))
        return col, prof, notes
    if pd.api.types.is_datetime64_any_dtype(s):
        prof.update(kind="datetime", min=values.min().isoformat(), max=values.max().isoformat())
        return col, prof, notes
    numbers, integer = None, False
    if pd.api.types.is_numeric_dtype(s):
        numbers, integer = values.to_numpy(dtype="float64"), pd.api.types.is_integer_dtype(s)
    else:
        counts = values.value_counts()
        parsed = pd.to_numeric(pd.Series(counts.index.astype(str)), errors="coerce").to_numpy()
        numeric_share = counts.to_numpy()[~np.isnan(parsed)].sum() / len(values)
        if 0.5 <= numeric_share < 1:  # numbers with some words: record the dominant type, flag the rest
            numbers = pd.to_numeric(values.astype(str), errors="coerce").dropna().to_numpy(dtype="float64")
            integer = nulls == 0 and bool(np.all(numbers == np.round(numbers)))
            col["dtype"] = "int64" if integer else "float64"
            bad = counts.index[np.isnan(parsed)].tolist()[:5]
            notes.append(
                f"column {name!r} mixes numbers ({numeric_share:.0%}) and text (e.g. {bad}); "
                f"the schema records the dominant type {col['dtype']}: validate will fail until the data is fixed"
            )
            prof["mixed"] = {"numeric_share": float(numeric_share), "examples": bad}
        elif len(counts) <= max_categories and len(counts) <= max(1, len(values) // 2):
            col["checks"].append(pa.Check.isin(sorted(counts.index.tolist(), key=str)))
            prof.update(kind="categorical", n_unique=len(counts), levels=shares(counts))
            return col, prof, notes
        else:
            prof.update(kind="text", n_unique=len(counts), top=shares(counts.head(10), total=len(values)))
            return col, prof, notes
    low, high = numbers.min(), numbers.max()
    col["checks"].append(pa.Check.in_range(_scalar(low, integer), _scalar(high, integer)))
    prof.update(numeric_profile(numbers, bins))
    return col, prof, notes


def infer(
    df: pd.DataFrame,
    *,
    unique: list[str] = (),
    personal_data: list[str] = (),
    max_categories: int = 50,
    bins: int = 10,
) -> Inferred:
    """Infer the schema and the reference profile of ``df`` (pure: nothing is written)."""
    import pandera.pandas as pa

    from mlctl.data.cleaning import nearest

    for key, names in (("validate.unique", unique), ("validate.personal_data", personal_data)):
        missing = [c for c in names if c not in df.columns]
        if missing:
            raise ConfigError(f"{key} names column(s) {missing} not in the data", hint=nearest(missing[0], df.columns))
    columns, profile, notes = {}, {}, []
    for name in df.columns:
        kwargs, prof, col_notes = _analyse(df[name], max_categories, bins)
        notes += col_notes
        if name in unique:
            kwargs["unique"] = True
            dupes = int(df[name].duplicated().sum())
            if dupes:
                notes.append(f"column {name!r} is declared unique but has {dupes} duplicate value(s) already")
        if name in personal_data:
            kwargs["description"] = f"{PERSONAL_MARK}: never a model feature (validate.personal_data)"
            prof["personal_data"] = True
        columns[name] = pa.Column(**kwargs)
        profile[name] = prof
    schema = pa.DataFrameSchema(
        columns,
        strict=True,  # an unexpected column is schema skew
        coerce=False,  # a wrong type must fail, not be converted silently
        metadata={"mlctl": {"personal_data": list(personal_data), "unique": list(unique)}},
    )
    return Inferred(schema, {"rows": len(df), "columns": profile}, notes)


def schema_to_dict(schema: pa.DataFrameSchema) -> dict[str, Any]:
    """pandera's own serialisation, plus the schema metadata (which pandera does not write)."""
    from pandera.io import pandas_io

    data = pandas_io.serialize_schema(schema)
    data.pop("version", None)  # the pandera version would make the file churn on upgrades
    if schema.metadata:
        data["metadata"] = schema.metadata
    return data


def save_schema(schema: pa.DataFrameSchema, path: str | Path) -> Path:
    """Write the schema as commented, reviewable YAML (atomically)."""
    import yaml

    from mlctl.core.fileio import write_text

    body = yaml.safe_dump(schema_to_dict(schema), sort_keys=False, allow_unicode=True)
    return write_text(path, _HEADER + body)


def load_schema(path: str | Path) -> pa.DataFrameSchema:
    """Load a schema YAML into a pandera DataFrameSchema, failing clearly if absent or broken."""
    import yaml
    from pandera.io import pandas_io

    path = Path(path)
    if not path.exists():
        raise InputNotFoundError("schema file not found", where=str(path), hint=INFER_HINT)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the same safe subset, ~10x faster
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except yaml.YAMLError as exc:
        raise DataError(f"not valid YAML: {exc}", where=str(path)) from None
    try:
        return pandas_io.deserialize_schema(data)
    except Exception as exc:  # pandera raises several types for a malformed schema
        raise ConfigError(
            f"not a valid pandera schema: {exc}", where=str(path), hint=f"fix the file by hand, or {INFER_HINT}"
        ) from None


def personal_columns(schema_path: str | Path) -> list[str]:
    """The columns the schema marks as personal data (train must refuse them as features)."""
    from mlctl.core.fileio import read_yaml

    path = Path(schema_path)
    if not path.exists():
        raise InputNotFoundError("schema file not found", where=str(path), hint=INFER_HINT)
    data = read_yaml(path) or {}
    declared = set(((data.get("metadata") or {}).get("mlctl") or {}).get("personal_data") or [])
    columns = data.get("columns") or {}
    if isinstance(columns, list):  # pandera writes a list when column names are not all strings
        columns = {c.get("name"): c for c in columns}
    marked = {n for n, c in columns.items() if str((c or {}).get("description") or "").startswith(PERSONAL_MARK)}
    ordered = [str(n) for n in columns if n in declared | marked]
    return ordered + sorted(str(n) for n in declared - set(columns))


def run_infer(
    params: ValidateParams,
    common: Common,
    project: Project,
    progress: Progress | None = None,
    input: str | None = None,
) -> SchemaResult:
    """Infer the schema + profile from the reference data and write both."""
    from mlctl.core.fileio import frame_hash, read_table, write_json

    started = time.perf_counter()
    source = project.path(input or params.input, what="reference data")
    if not source.exists():
        raise InputNotFoundError(
            "reference data not found", where=project.rel(source), hint="run `mlctl collect` first (or pass --input)"
        )
    if progress:
        progress.start("schema infer", total=None)
    df = read_table(source)
    inferred = infer(
        df,
        unique=params.unique,
        personal_data=params.personal_data,
        max_categories=params.max_categories,
        bins=params.histogram_bins,
    )
    profile = {"reference": project.rel(source), "hash": frame_hash(df), **inferred.profile}
    schema_path = project.path(params.schema_path, what="validate.schema_path")
    profile_path = project.path(params.profile_path, what="validate.profile_path")
    save_schema(inferred.schema, schema_path)
    write_json(profile_path, profile)
    if progress:
        progress.done()
    columns = [
        {
            "name": name,
            "dtype": str(col.dtype),
            "kind": profile["columns"][name]["kind"],
            "nullable": col.nullable,
            "unique": col.unique,
            "personal_data": bool(profile["columns"][name].get("personal_data")),
            "checks": [c.error or c.name for c in col.checks],
        }
        for name, col in inferred.schema.columns.items()
    ]
    return SchemaResult(
        schema=project.rel(schema_path),
        profile=project.rel(profile_path),
        reference=project.rel(source),
        rows=len(df),
        columns=columns,
        warnings=inferred.warnings,
        seconds=round(time.perf_counter() - started, 3),
    )
