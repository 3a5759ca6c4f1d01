"""Validation of Parquet from Arrow: the same report as pandas + pandera when it passes, else no verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from mlctl.data.profiling import parquet_level_counts
from mlctl.data.schema import infer
from mlctl.params.validate import ValidateParams
from mlctl.stages.validate.findings import validate_frame
from mlctl.stages.validate.parquet import validate_parquet


def reference_frame(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "count": rng.integers(0, 50, n),
            "amount": rng.normal(100, 20, n),
            "ratio": rng.uniform(0, 1, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "region": rng.choice(["north", "south"], n),
            "note": [f"free text {i}" for i in range(n)],  # too many levels: profiled as text
        }
    )
    df.loc[rng.random(n) < 0.05, "amount"] = np.nan
    df.loc[rng.random(n) < 0.05, "colour"] = None
    return df


def clean_sample(seed: int) -> pd.DataFrame:
    """Rows of the reference data: inside every range, only known categories."""
    return reference_frame().sample(2000, random_state=seed).reset_index(drop=True)


@pytest.fixture(scope="module")
def contract():
    inferred = infer(reference_frame())
    return inferred.schema, inferred.profile


def full_path(path, schema, profile) -> dict:
    """What validate reports through pandas and pandera on every row."""
    return validate_frame(pd.read_parquet(path), schema, profile, ValidateParams(), parquet_level_counts(path))


def write(df: pd.DataFrame, path) -> object:
    df.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("seed", [1, 2])
def test_clean_file_gets_the_full_paths_report(tmp_path, contract, seed):
    schema, profile = contract
    df = clean_sample(seed)
    df.loc[df.index[:300], "amount"] = np.nan  # more missing than in the reference: value skew, reported
    path = write(df, tmp_path / "d.parquet")
    fast = validate_parquet(path, schema, profile, ValidateParams())
    assert fast is not None
    assert fast == full_path(path, schema, profile)
    assert fast["schema_skew"] == [] and {f["column"] for f in fast["value_skew"]} >= {"amount"}


def test_clean_file_with_a_float_written_as_arrow_null(tmp_path, contract):
    schema, profile = contract
    df = clean_sample(3)
    import pyarrow as pa_
    import pyarrow.parquet as pq

    table = pa_.Table.from_pandas(df, preserve_index=False)
    amount = table.column("amount").to_pylist()
    amount[7] = None  # a true Parquet null next to the NaNs pandas writes
    table = table.set_column(table.schema.get_field_index("amount"), "amount", pa_.array(amount, pa_.float64()))
    pq.write_table(table, tmp_path / "d.parquet")
    fast = validate_parquet(tmp_path / "d.parquet", schema, profile, ValidateParams())
    assert fast is not None and fast == full_path(tmp_path / "d.parquet", schema, profile)


def broken(df: pd.DataFrame, how: str) -> pd.DataFrame:
    df = df.copy()
    if how == "out_of_range":
        df.loc[3, "count"] = 10_000
    elif how == "unseen_category":
        df.loc[3, "region"] = "east"
    elif how == "null_in_non_nullable":
        df["region"] = df["region"].astype(object)
        df.loc[3, "region"] = None
    elif how == "nan_in_non_nullable_float":
        df.loc[3, "ratio"] = np.nan
    elif how == "integer_with_nulls":
        df["count"] = df["count"].astype("float64")
        df.loc[3, "count"] = np.nan
    elif how == "wrong_type":
        df["count"] = df["count"].astype(str)
    elif how == "missing_column":
        df = df.drop(columns=["ratio"])
    elif how == "unexpected_column":
        df["extra"] = 1
    return df


@pytest.mark.parametrize(
    "how",
    [
        "out_of_range",
        "unseen_category",
        "null_in_non_nullable",
        "nan_in_non_nullable_float",
        "integer_with_nulls",
        "wrong_type",
        "missing_column",
        "unexpected_column",
    ],
)
def test_anything_unproven_is_left_to_the_full_path(tmp_path, contract, how):
    schema, profile = contract
    path = write(broken(clean_sample(4), how), tmp_path / "d.parquet")
    assert validate_parquet(path, schema, profile, ValidateParams()) is None
    report = full_path(path, schema, profile)
    assert report["schema_skew"] or report["value_skew"]


@pytest.mark.parametrize("constraint", ["unique", "custom_check", "coerce"])
def test_constraints_that_need_the_rows_are_never_proven(tmp_path, contract, constraint):
    schema, profile = contract
    if constraint == "unique":
        schema = schema.update_column("note", unique=True)
    elif constraint == "custom_check":
        schema = schema.update_column("note", checks=[pa.Check.str_length(max_value=3)])
    else:
        schema = schema.update_column("count", coerce=True)
    path = write(clean_sample(5), tmp_path / "d.parquet")
    assert validate_parquet(path, schema, profile, ValidateParams()) is None


def test_a_file_with_an_index_or_unreadable_bytes_is_left_to_the_full_path(tmp_path, contract):
    schema, profile = contract
    df = reference_frame(500, 6).set_index("note")
    df.to_parquet(tmp_path / "indexed.parquet")
    assert validate_parquet(tmp_path / "indexed.parquet", schema, profile, ValidateParams()) is None
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really parquet")
    assert validate_parquet(tmp_path / "broken.parquet", schema, profile, ValidateParams()) is None
