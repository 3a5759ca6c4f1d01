"""`mlctl schema infer` and `mlctl validate`: real pandera, real files, schema skew vs value skew."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import make_frame, write_params
from pandera.io import pandas_io
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.core.errors import EXIT_DATA_INVALID, EXIT_NOT_FOUND, EXIT_USAGE, DataValidationError
from mlctl.core.fileio import read_json, read_yaml
from mlctl.core.project import Project
from mlctl.data.drift import psi_shares as psi
from mlctl.data.profiling import bin_shares, histogram_edges, parquet_level_counts
from mlctl.data.schema import infer, load_schema, personal_columns, run_infer, save_schema
from mlctl.params import load_params
from mlctl.stages import validate as validate_stage
from mlctl.stages.collect import run as collect

runner = CliRunner()


def text(result) -> str:
    return " ".join(result.output.split())


def setup(make_project, df=None, **validate_keys):
    """A project with collected data and an inferred schema + profile; returns (root, params)."""
    df = make_frame(n=600) if df is None else df
    root = make_project(df, validate=validate_keys) if validate_keys else make_project(df)
    params = load_params(root / "params.yaml")
    collect(params.collect, params.common, Project(root))
    run_infer(params.validate_, params.common, Project(root))
    return root, params


def replace_data(root, df) -> None:
    """New source data, collected again; the schema and profile stay the reference ones."""
    df.to_csv(root / "data/sources/data.csv", index=False)
    params = load_params(root / "params.yaml")
    collect(params.collect, params.common, Project(root))


def validate(root, params):
    return validate_stage.run(params.validate_, params.common, Project(root))


def failing_report(root, params) -> dict:
    with pytest.raises(DataValidationError) as info:
        validate(root, params)
    assert info.value.exit_code == EXIT_DATA_INVALID
    assert read_json(root / "reports/validation.json") == json.loads(json.dumps(info.value.report, default=str))
    return info.value.report


def kinds(findings) -> set[tuple[str, str]]:
    return {(f["column"], f["kind"]) for f in findings}


# ---- schema infer ------------------------------------------------------------


def test_schema_infer_writes_reviewable_yaml_and_profile(make_project):
    root, _ = setup(make_project)
    yaml_schema = read_yaml(root / "data/schema.yaml")
    cols = yaml_schema["columns"]
    assert yaml_schema["strict"] is True
    assert cols["x1"]["dtype"] == "float64" and "nullable" not in cols["x1"]
    assert cols["x2"]["nullable"] is True and cols["colour"]["nullable"] is True
    assert cols["count"]["dtype"] == "int64" and cols["count"]["in_range"]["min_value"] == 0
    assert cols["colour"]["isin"] == ["blue", "green", "red"]
    assert cols["target"]["isin"] == ["no", "yes"]
    assert "isin" not in cols["flag"] and "in_range" not in cols["signup"]
    # plain pandera reads it too, and the reference data passes its own schema
    data = pd.read_parquet(root / "data/raw/data.parquet")
    pandas_io.from_yaml(root / "data/schema.yaml").validate(data)
    profile = read_json(root / "data/profile.json")
    x1 = profile["columns"]["x1"]
    assert x1["kind"] == "numeric" and x1["min"] == pytest.approx(data["x1"].min())
    assert sum(x1["histogram"]["shares"]) == pytest.approx(1) and len(x1["histogram"]["edges"]) == 11
    assert x1["quantiles"]["0.5"] == pytest.approx(data["x1"].median())
    assert profile["columns"]["x2"]["null_rate"] == pytest.approx(data["x2"].isna().mean())
    assert sum(profile["columns"]["region"]["levels"].values()) == pytest.approx(1)
    assert profile["columns"]["count"]["kind"] == "numeric"


def test_schema_round_trips_through_yaml(tmp_path):
    df = make_frame(n=200)
    inferred = infer(df, unique=[], personal_data=["region"])
    path = save_schema(inferred.schema, tmp_path / "schema.yaml")
    loaded = load_schema(path)
    assert list(loaded.columns) == list(df.columns)
    assert loaded.columns["region"].description.startswith("personal data")
    assert loaded.metadata["mlctl"]["personal_data"] == ["region"]
    assert [c.error for c in loaded.columns["x1"].checks] == [c.error for c in inferred.schema.columns["x1"].checks]
    loaded.validate(df)


def test_personal_data_and_unique_columns(make_project):
    df = make_frame(n=300)
    df["email"] = [f"user{i}@example.com" for i in range(len(df))]
    df["id"] = np.arange(len(df))
    root, params = setup(make_project, df, personal_data=["email"], unique=["id"])
    assert personal_columns(root / "data/schema.yaml") == ["email"]
    assert read_yaml(root / "data/schema.yaml")["columns"]["id"]["unique"] is True
    validate(root, params)
    dup = df.copy()
    dup.loc[5, "id"] = 4
    replace_data(root, dup)
    report = failing_report(root, params)
    assert ("id", "not_unique") in kinds(report["schema_skew"])


def test_declared_columns_must_exist(make_project):
    root = make_project(make_frame(n=50), validate={"personal_data": ["emial"]})
    params = load_params(root / "params.yaml")
    collect(params.collect, params.common, Project(root))
    result = runner.invoke(app, ["schema", "infer", "-C", str(root)])
    assert result.exit_code == EXIT_USAGE and "emial" in text(result)
    assert not (root / "data/schema.yaml").exists()


def test_mixed_types_all_null_and_dominant_type(make_project):
    df = make_frame(n=200)
    df["amount"] = [str(v) for v in np.round(df["x1"], 3)]
    df.loc[[3, 50], "amount"] = ["unknown", "twelve"]
    df["empty"] = np.nan
    root = make_project(df)
    params = load_params(root / "params.yaml")
    collect(params.collect, params.common, Project(root))
    result = runner.invoke(app, ["schema", "infer", "-C", str(root)])
    assert result.exit_code == 0, result.output
    assert "'amount' mixes numbers" in text(result) and "'empty' is entirely null" in text(result)
    assert read_yaml(root / "data/schema.yaml")["columns"]["amount"]["dtype"] == "float64"
    report = failing_report(root, params)
    (finding,) = [f for f in report["schema_skew"] if f["column"] == "amount"]
    assert finding["kind"] == "wrong_type" and "2 of 200 values are not numbers" in finding["detail"]
    assert sorted(finding["examples"]) == ["twelve", "unknown"]
    assert "column 'empty' is entirely null" in report["warnings"]


# ---- validate ----------------------------------------------------------------


def test_reference_data_is_valid(make_project):
    root, params = setup(make_project)
    result = validate(root, params)
    report = read_json(root / "reports/validation.json")
    assert result.valid and report["valid"] is True
    assert report["schema_skew"] == [] and report["value_skew"] == []
    assert report["column_stats"]["x1"]["psi"] == pytest.approx(0, abs=1e-9)
    cli = runner.invoke(app, ["validate", "-C", str(root), "--json"])
    assert cli.exit_code == 0 and json.loads(cli.stdout)["valid"] is True


def test_schema_skew_always_stops(make_project):
    root, _ = setup(make_project, fail_on_value_skew=False)
    df = make_frame(n=600).drop(columns=["region"])
    df["surprise"] = 1
    df["count"] = df["count"].astype(object)
    df.loc[:3, "count"] = "lots"  # words in a numeric column
    replace_data(root, df)
    result = runner.invoke(app, ["validate", "-C", str(root)])
    assert result.exit_code == EXIT_DATA_INVALID
    assert "missing_column" in text(result) and "unexpected_column" in text(result)
    report = read_json(root / "reports/validation.json")
    assert report["valid"] is False
    assert {("region", "missing_column"), ("surprise", "unexpected_column"), ("count", "wrong_type")} <= kinds(
        report["schema_skew"]
    )
    wrong = next(f for f in report["schema_skew"] if f["kind"] == "wrong_type")
    assert wrong["expected"] == "int64" and wrong["actual"] == "str"
    assert all(f["column"] != "count" or f["kind"] == "wrong_type" for f in report["schema_skew"])  # no noise


def test_value_skew_reported_within_tolerance(make_project):
    root, params = setup(make_project)
    df = make_frame(n=600, seed=1)
    df.loc[:5, "colour"] = "purple"  # 1% unseen
    df.loc[:2, "x2"] = 1e6  # out of range, 0.5%
    replace_data(root, df)
    result = validate(root, params)
    report = result.report
    assert result.valid and report["valid"] is True and report["schema_skew"] == []
    found = {(f["column"], f["kind"]): f for f in report["value_skew"]}
    assert found[("colour", "unseen_categories")]["failures"] == 6
    assert found[("colour", "unseen_categories")]["exceeded"] is False
    out = found[("x2", "out_of_range")]
    assert 1e6 in out["examples"] and out["failures"] >= 3 and not out["exceeded"]
    assert report["column_stats"]["colour"]["unseen_examples"] == ["purple"]
    cli = runner.invoke(app, ["validate", "-C", str(root)])
    assert cli.exit_code == 0 and "within tolerance" in text(cli) and "'purple'" in text(cli)


def test_value_skew_beyond_tolerance_fails_unless_allowed(make_project):
    root, params = setup(make_project)
    df = make_frame(n=600, seed=2)
    df["x1"] = df["x1"] + 3  # a distribution shift (and many values out of range)
    df.loc[df.index[:200], "region"] = None  # null rate 0 -> 33%
    replace_data(root, df)
    report = failing_report(root, params)
    exceeded = {(f["column"], f["kind"]) for f in report["value_skew"] if f["exceeded"]}
    assert {("x1", "distribution_shift"), ("x1", "out_of_range"), ("region", "null_rate")} <= exceeded
    null = next(f for f in report["value_skew"] if f["kind"] == "null_rate" and f["column"] == "region")
    assert null["value"] == pytest.approx(1 / 3) and null["reference"] == 0 and null["failures"] == 200
    assert report["column_stats"]["x1"]["psi"] > 0.25
    # the same data passes, still reported, when value skew may not fail
    write_params(root, {**read_yaml(root / "params.yaml"), "validate": {"fail_on_value_skew": False}})
    params = load_params(root / "params.yaml")
    result = validate(root, params)
    assert result.valid and any(f["exceeded"] for f in result.report["value_skew"])


def test_bin_shares_match_a_binary_search():
    x = np.random.default_rng(0).normal(size=1000)
    x[:10] = np.nan
    present = x[~np.isnan(x)]
    edges = histogram_edges(present, 10)
    expected = np.bincount(np.searchsorted(edges[1:-1], present, side="right"), minlength=len(edges) - 1)
    assert np.allclose(bin_shares(x, edges), expected / len(present))
    assert histogram_edges(np.array([0.0, 1.0, 1.0]), 10) == [0.0, 0.5, 1.0]  # one bin per distinct value


def test_parquet_level_counts_match_pandas_value_counts(tmp_path):
    """The dictionary-encoded counts validate uses equal pandas' value_counts, across row groups and nulls."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    df = pd.DataFrame({"c": rng.choice(["a", "b", "c", None], 500), "n": rng.normal(size=500)})
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "d.parquet", row_group_size=64)
    counts = parquet_level_counts(tmp_path / "d.parquet")
    assert list(counts) == ["c"]
    assert counts["c"].to_dict() == df["c"].value_counts().to_dict()
    assert counts["c"].is_monotonic_decreasing


def test_psi():
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0
    assert psi([0.5, 0.5], [0.9, 0.1]) > 0.25 > psi([0.5, 0.5], [0.55, 0.45])


def test_missing_schema_or_data_exit_3(make_project):
    root = make_project(make_frame(n=50))
    result = runner.invoke(app, ["validate", "-C", str(root)])
    assert result.exit_code == EXIT_NOT_FOUND and "mlctl schema infer" in text(result)
    result = runner.invoke(app, ["schema", "infer", "-C", str(root)])
    assert result.exit_code == EXIT_NOT_FOUND and "mlctl collect" in text(result)
    assert not (root / "reports").exists()


def test_cli_help_and_json_failure(make_project):
    for args in (["validate", "--help"], ["schema", "infer", "--help"], ["schema", "--help"]):
        assert runner.invoke(app, args).exit_code == 0
    root, _ = setup(make_project)
    replace_data(root, make_frame(n=600).drop(columns=["x1"]))
    result = runner.invoke(app, ["validate", "-C", str(root), "--json"])
    assert result.exit_code == EXIT_DATA_INVALID
    assert json.loads(result.stdout)["valid"] is False


def test_hand_edited_schema_is_honoured(make_project):
    root, params = setup(make_project)
    path = root / "data/schema.yaml"
    text_ = path.read_text()
    narrowed = text_.replace("    - blue\n    - green\n    - red\n", "    - blue\n    - green\n", 1)
    assert narrowed != text_
    path.write_text(narrowed.replace("  region:\n", "  region:\n    str_length:\n      max_value: 4\n", 1))
    report = failing_report(root, params)
    unseen = next(f for f in report["value_skew"] if f["kind"] == "unseen_categories")
    assert unseen["column"] == "colour" and unseen["examples"] == ["red"] and unseen["exceeded"]
    hand = next(f for f in report["schema_skew"] if f["column"] == "region")
    assert hand["kind"] == "check" and set(hand["examples"]) == {"north", "south"}


def test_repo_project_passes_its_committed_schema(tmp_path):
    """The repository's own project: collect the embedded data and validate it against data/schema.yaml."""
    import shutil

    from conftest import REPO

    if not (REPO / "data/schema.yaml").exists():
        pytest.skip("data/schema.yaml not generated yet")
    root = tmp_path / "repo"
    shutil.copytree(REPO / "data/sources", root / "data/sources")
    for name in ("params.yaml", "data/schema.yaml", "data/profile.json"):
        shutil.copy(REPO / name, root / name)
    params = load_params(root / "params.yaml")
    collect(params.collect, params.common, Project(root))
    result = validate(root, params)
    assert result.valid and result.report["rows"] == 2381
