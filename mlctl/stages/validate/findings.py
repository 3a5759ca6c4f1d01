"""What validate finds: schema checks (pandera), profile comparisons, and the report assembled from both."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlctl.core.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

    from mlctl.params.validate import ValidateParams


PSI_REPORTED = 0.1  # below this a shift is conventionally "no change": kept out of the value-skew list


THRESHOLDS = ("max_null_rate_increase", "max_unseen_category_share", "max_out_of_range_share", "max_distribution_shift")


_RANGE_CHECKS = {"in_range", "greater_than_or_equal_to", "less_than_or_equal_to", "greater_than", "less_than"}


_SCHEMA_KINDS = {
    "COLUMN_NOT_IN_DATAFRAME": "missing_column",
    "COLUMN_NOT_IN_SCHEMA": "unexpected_column",
    "WRONG_DATATYPE": "wrong_type",
    "INVALID_TYPE": "wrong_type",
    "DATATYPE_COERCION": "wrong_type",
    "DUPLICATE_COLUMN_LABELS": "duplicate_columns",
    "SERIES_CONTAINS_DUPLICATES": "not_unique",
    "DUPLICATES": "not_unique",
}


def _examples(failure_cases: Any, k: int = 5) -> list[Any]:
    if isinstance(failure_cases, str):
        return [failure_cases]
    return failure_cases["failure_case"].drop_duplicates().head(k).tolist()


def _count(failure_cases: Any) -> int:
    return 1 if isinstance(failure_cases, str) else len(failure_cases)


def _mixed_detail(s: pd.Series) -> tuple[str, list[Any]]:
    """For text where numbers were expected: how many values are not numbers, and which."""
    import pandas as pd

    present = s.dropna()
    words = present[pd.to_numeric(present.astype(str), errors="coerce").isna()]
    return f"{len(words)} of {len(present)} values are not numbers (mixed types)", words.unique()[:5].tolist()


def schema_findings(df: pd.DataFrame, schema: pa.DataFrameSchema, params: ValidateParams) -> list[dict[str, Any]]:
    """Run pandera lazily (every failure collected) and turn its errors into findings."""
    import pandera.errors as pe

    from mlctl.data.profiling import is_numeric

    try:
        schema.validate(df, lazy=True, inplace=True)  # no copy: coerce is off and df is ours
        return []
    except pe.SchemaErrors as exc:
        errors = exc.schema_errors
    except pe.SchemaDefinitionError as exc:
        raise ConfigError(f"the schema cannot be applied: {exc}", hint="fix data/schema.yaml") from None
    wrong_type = {e.column_name for e in errors if _SCHEMA_KINDS.get(e.reason_code.name) == "wrong_type"}
    findings = []
    for err in errors:
        reason, fc = err.reason_code.name, err.failure_cases
        check = err.check if isinstance(err.check, str) or err.check is None else err.check.name
        shown_check = str(err.check) if isinstance(err.check, str) else getattr(err.check, "error", None) or check
        column = err.column_name if err.column_name is not None else (fc if isinstance(fc, str) else None)
        item = {"column": column, "check": shown_check, "failures": _count(fc), "examples": _examples(fc)}
        if reason == "CHECK_ERROR" and column in wrong_type:
            continue  # a range check on a column of the wrong type: the type finding says it all
        if reason in _SCHEMA_KINDS:
            item.update(skew="schema", kind=_SCHEMA_KINDS[reason], exceeded=True)
            if item["kind"] == "wrong_type":
                item.update(expected=str(schema.columns[column].dtype), actual=str(df[column].dtype))
                if _numeric_expected(schema.columns[column].dtype) and not is_numeric(df[column]):
                    item["detail"], item["examples"] = _mixed_detail(df[column])
            findings.append(item)
        elif reason == "SERIES_CONTAINS_NULLS":
            findings.append({**item, "skew": "value", "kind": "null_rate", "examples": []})
        elif reason == "DATAFRAME_CHECK" and check in _RANGE_CHECKS | {"isin"}:
            kind = "unseen_categories" if check == "isin" else "out_of_range"
            limit = params.max_unseen_category_share if check == "isin" else params.max_out_of_range_share
            share = item["failures"] / max(int(df[column].notna().sum()), 1)
            findings.append(
                {**item, "skew": "value", "kind": kind, "value": share, "threshold": limit, "exceeded": share > limit}
            )
        else:  # a constraint added to the schema by hand, or a check that crashed: always stops
            findings.append(
                {
                    **item,
                    "skew": "schema",
                    "kind": "check" if reason == "DATAFRAME_CHECK" else reason.lower(),
                    "exceeded": True,
                }
            )
    return findings


def _numeric_expected(dtype: Any) -> bool:
    return any(word in str(dtype).lower() for word in ("int", "float"))


def profile_findings(stats: dict[str, dict], params: ValidateParams) -> list[dict[str, Any]]:
    """Value skew from the profile comparison: null-rate increases and distribution shifts."""
    findings = []
    for name, st in stats.items():
        increase = st["null_rate"] - st["reference_null_rate"]
        if increase > 0:
            findings.append(
                {
                    "column": name,
                    "check": "null rate increase",
                    "skew": "value",
                    "kind": "null_rate",
                    "value": increase,
                    "null_rate": st["null_rate"],
                    "reference": st["reference_null_rate"],
                    "threshold": params.max_null_rate_increase,
                    "exceeded": increase > params.max_null_rate_increase,
                }
            )
        if "psi" in st and (st["psi"] >= PSI_REPORTED or st["psi"] > params.max_distribution_shift):
            findings.append(
                {
                    "column": name,
                    "check": "distribution shift (PSI)",
                    "skew": "value",
                    "kind": "distribution_shift",
                    "value": st["psi"],
                    "threshold": params.max_distribution_shift,
                    "exceeded": st["psi"] > params.max_distribution_shift,
                }
            )
    return findings


def _merge_null_findings(checks: list[dict], from_profile: list[dict], rows: int, params: ValidateParams) -> list:
    """pandera's not-null failure and the profile's null-rate increase are one finding: keep the profile's figures."""
    from_pandera = {f["column"]: f for f in checks if f["kind"] == "null_rate"}
    for f in from_profile:
        if f["kind"] == "null_rate" and f["column"] in from_pandera:
            f.update(failures=from_pandera.pop(f["column"])["failures"], check="not_nullable")
    for f in from_pandera.values():  # no profile figures for this column: judge the share alone
        share = f["failures"] / max(rows, 1)
        f.update(value=share, threshold=params.max_null_rate_increase, exceeded=share > params.max_null_rate_increase)
    return [f for f in checks if f["kind"] != "null_rate" or f["column"] in from_pandera]


def validate_frame(
    df: pd.DataFrame, schema: pa.DataFrameSchema, profile: dict, params: ValidateParams, counts: dict | None = None
) -> dict:
    """The pure core: every finding about ``df``, and whether it passes (``counts``: known text value counts)."""
    from concurrent.futures import ThreadPoolExecutor

    from mlctl.data.profiling import current_stats, null_counts, provably_passing

    reference = profile.get("columns", {})
    null_rates = {name: k / max(len(df), 1) for name, k in null_counts(df).items()}
    names = [name for name in df.columns if name in reference]
    # numpy and Arrow kernels release the GIL: the columns' statistics are computed two at a time
    with ThreadPoolExecutor(max_workers=2) as pool:
        known = counts or {}
        figures = list(pool.map(lambda c: current_stats(df[c], reference[c], null_rates[c], known.get(c)), names))
    stats = {name: st for name, (st, _) in zip(names, figures, strict=True)}
    evidence = {name: seen for name, (_, seen) in zip(names, figures, strict=True)}
    passing = provably_passing(schema, evidence)
    lean = schema.update_columns({name: {"checks": []} for name in passing}) if passing else schema
    checks = schema_findings(df, lean, params)
    return assemble(checks, stats, null_rates, (len(df), len(df.columns)), profile, params)


def assemble(
    checks: list[dict], stats: dict, null_rates: dict[str, float], shape: tuple[int, int], profile: dict, params
) -> dict:
    """The report from pandera's findings and the columns' statistics (rows, columns in ``shape``)."""
    rows, n_columns = shape
    broken = {f["column"] for f in checks if f["skew"] == "schema" and f["kind"] == "wrong_type"}
    stats = {name: st for name, st in stats.items() if name not in broken}
    from_profile = profile_findings(stats, params)
    checks = _merge_null_findings(checks, from_profile, rows, params)
    findings = checks + from_profile
    schema_skew = [f for f in findings if f["skew"] == "schema"]
    value_skew = [f for f in findings if f["skew"] == "value"]
    value_failed = params.fail_on_value_skew and any(f["exceeded"] for f in value_skew)
    warnings = [f"column {c!r} is entirely null" for c, rate in null_rates.items() if rows and rate == 1.0]
    warnings += [
        f"column {c!r} was entirely null in the reference data"
        for c, r in profile.get("columns", {}).items()
        if r.get("kind") == "empty"
    ]
    return {
        "valid": not schema_skew and not value_failed,
        "rows": rows,
        "columns": n_columns,
        "schema_skew": schema_skew,
        "value_skew": value_skew,
        "summary": {
            "schema_skew": len(schema_skew),
            "value_skew": len(value_skew),
            "value_skew_exceeded": sum(f["exceeded"] for f in value_skew),
            "fail_on_value_skew": params.fail_on_value_skew,
        },
        "thresholds": {key: getattr(params, key) for key in THRESHOLDS},
        "column_stats": stats,
        "warnings": warnings,
    }


def _headline(report: dict) -> str:
    parts = [f"{f['kind']} {f['column']!r}" for f in report["schema_skew"][:3]]
    parts += [
        f"{f['kind']} {f['column']!r} ({f['value']:.3g} > {f['threshold']})"
        for f in report["value_skew"]
        if f["exceeded"]
    ][:3]
    return "; ".join(parts)
