"""`validate`: check raw data against the pandera schema and the reference profile.

Findings fall in two lists. **Schema skew** (a missing or unexpected column, a
wrong type, a declared constraint broken) always fails. **Value skew** (null
rate up, unseen categories, values out of range, distribution shift measured
as PSI) is always reported and fails only beyond the tolerances in
``validate:`` (and only if ``fail_on_value_skew``). The report is written to
``reports/validation.json`` whether the data passes or not.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import DataValidationError, InputNotFoundError
from mlctl.stages.validate.findings import _headline, validate_frame

if TYPE_CHECKING:
    from mlctl.core.progress import Progress
    from mlctl.core.project import Project
    from mlctl.params import Common
    from mlctl.params.validate import ValidateParams


@dataclass
class ValidationResult:
    """What `mlctl validate` found (the same content as reports/validation.json)."""

    valid: bool
    report_path: str
    report: dict[str, Any]
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def run(params: ValidateParams, common: Common, project: Project, progress: Progress | None = None) -> ValidationResult:
    """Validate ``validate.input``; write the report; raise DataValidationError (exit 4) if it fails."""
    from concurrent.futures import ThreadPoolExecutor

    from mlctl.core.fileio import read_json, read_table, table_format, write_json
    from mlctl.data.profiling import parquet_level_counts
    from mlctl.data.schema import INFER_HINT, load_schema
    from mlctl.stages.validate.parquet import validate_parquet

    started = time.perf_counter()
    schema_path = project.path(params.schema_path, what="validate.schema_path")
    profile_path = project.path(params.profile_path, what="validate.profile_path")
    data_path = project.path(params.input, what="validate.input")
    for path, what in ((schema_path, "schema"), (profile_path, "reference profile")):
        if not path.exists():
            raise InputNotFoundError(f"{what} not found", where=project.rel(path), hint=INFER_HINT)
    if not data_path.exists():
        raise InputNotFoundError("data not found", where=project.rel(data_path), hint="run `mlctl collect` first")
    if progress:
        progress.start("validate", total=None)
    schema, profile = load_schema(schema_path), read_json(profile_path)
    parquet = table_format(data_path) == "parquet"
    found = validate_parquet(data_path, schema, profile, params) if parquet else None
    if found is None:  # the full path: every row through pandas and pandera, every failure described
        with ThreadPoolExecutor(max_workers=2) as pool:  # Parquet decoding releases the GIL
            levels = pool.submit(parquet_level_counts, data_path) if parquet else None
            df = read_table(data_path)
            counts = levels.result() if levels is not None and levels.exception() is None else None
        found = validate_frame(df, schema, profile, params, counts)
    report = {
        "input": project.rel(data_path),
        "schema": project.rel(schema_path),
        "profile": project.rel(profile_path),
        **found,
    }
    report_path = project.path(params.report, what="validate.report")
    write_json(report_path, report)
    if progress:
        progress.done()
    if not report["valid"]:
        raise DataValidationError(
            f"{report['summary']['schema_skew']} schema skew, {report['summary']['value_skew_exceeded']} value skew "
            f"beyond tolerance: {_headline(report)}",
            where=project.rel(data_path),
            report=report,
            hint=f"see {project.rel(report_path)}; fix the data, or if the change is expected re-run "
            "`mlctl schema infer` and review the schema diff",
        )
    return ValidationResult(True, project.rel(report_path), report, round(time.perf_counter() - started, 3))
