"""`mlctl prepare`: cleaning, the four split methods, the manifest, the EDA report and the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.core.errors import ConfigError, DataError, InputNotFoundError
from mlctl.core.fileio import frame_hash, read_json
from mlctl.core.project import Project
from mlctl.params import Common
from mlctl.params.prepare import PrepareParams
from mlctl.stages.prepare import prepare_frame, run
from tests.conftest import make_frame

runner = CliRunner()


def params(**split) -> PrepareParams:
    extra = split.pop("prepare", {})
    return PrepareParams(**extra, split=split or {"method": "random"})


def common(task: str = "classification", seed: int = 0) -> Common:
    return Common(seed=seed, target="target", task=task)


@pytest.fixture
def raw_project(make_project):
    """A project whose data/raw/data.parquet holds ``df`` (what `collect` would write)."""

    def _make(df: pd.DataFrame | None = None, task: str = "classification", **prepare) -> Path:
        df = make_frame(task, n=300) if df is None else df
        root = make_project(df, task, prepare=prepare) if prepare else make_project(df, task)
        (root / "data" / "raw").mkdir(parents=True, exist_ok=True)
        df.to_parquet(root / "data" / "raw" / "data.parquet", index=False)
        return root

    return _make


def run_project(root: Path, task: str = "classification", **prepare):
    return run(PrepareParams(**prepare), common(task), Project(root))


# --- the pure core: cleaning and the split methods ---------------------------------------


def test_random_split_sizes_cover_all_rows():
    df = make_frame(n=400)
    prep = prepare_frame(df, params(method="random", test_size=0.25, validation_size=0.15), common())
    sizes = {k: len(v) for k, v in prep.frames.items()}
    assert sizes == {"train": 240, "validation": 60, "test": 100}
    assert prep.rows["after_cleaning"] == 400 == sum(sizes.values())
    # rows are not lost or repeated: the x1 values (unique floats) are a permutation of the input
    joined = np.sort(np.concatenate([f["x1"].to_numpy() for f in prep.frames.values()]))
    assert np.array_equal(joined, np.sort(df["x1"].to_numpy()))


def test_stratified_split_keeps_class_shares():
    df = make_frame(n=600, n_classes=3)
    prep = prepare_frame(df, params(method="stratified", test_size=0.2, validation_size=0.1), common())
    overall = df["target"].value_counts(normalize=True)
    for frame in prep.frames.values():
        shares = frame["target"].value_counts(normalize=True)
        assert (shares - overall).abs().max() < 0.02


def test_stratified_split_refuses_tiny_class():
    df = make_frame(n=200)
    df.loc[:1, "target"] = "rare"  # two rows of a third class: three parts cannot all get one
    with pytest.raises(DataError, match="rare") as exc:
        prepare_frame(df, params(method="stratified"), common())
    assert "random" in exc.value.hint


def test_stratified_split_needs_classification():
    with pytest.raises(ConfigError, match="stratified"):
        prepare_frame(make_frame("regression"), params(method="stratified"), common("regression"))


def test_group_split_keeps_groups_together():
    df = make_frame(n=500)
    df["customer"] = np.random.default_rng(1).integers(0, 60, size=len(df))
    prep = prepare_frame(df, params(method="group", group_column="customer"), common())
    groups = [set(f["customer"]) for f in prep.frames.values()]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert sum(len(f) for f in prep.frames.values()) == 500
    assert 0.1 < len(prep.frames["test"]) / 500 < 0.3


def test_time_split_orders_oldest_to_newest():
    df = make_frame(n=300)
    prep = prepare_frame(
        df,
        params(method="time", time_column="signup", prepare={"date_parts": ["year", "dayofyear"]}),
        common(),
    )
    key = {name: f["signup_year"] * 1000 + f["signup_dayofyear"] for name, f in prep.frames.items()}
    assert key["train"].max() <= key["validation"].min()
    assert key["validation"].max() <= key["test"].min()
    assert key["train"].is_monotonic_increasing  # each part keeps time order


def test_time_split_drops_rows_without_time_and_parses_text_times():
    df = make_frame(n=200)
    df["when"] = [f"2024-01-{1 + i % 28:02d}" for i in range(len(df))]
    df.loc[:4, "when"] = None
    prep = prepare_frame(df, params(method="time", time_column="when"), common())
    assert prep.dropped["missing_time"] == 5
    assert prep.rows["after_cleaning"] == 195
    assert "when" not in prep.frames["train"].columns and "when_month" in prep.frames["train"].columns


def test_duplicates_and_missing_targets_are_dropped_and_counted():
    df = make_frame(n=300)
    df = pd.concat([df, df.iloc[:5]], ignore_index=True)  # 5 exact duplicates
    df.loc[10:16, "target"] = None  # 7 missing targets
    prep = prepare_frame(df, params(), common())
    assert prep.dropped == {"duplicates": 5, "missing_target": 7}
    assert prep.rows["input"] == 305 and prep.rows["after_cleaning"] == 293
    kept = pd.concat(prep.frames.values())
    assert kept["target"].notna().all()


def test_drop_duplicates_can_be_switched_off():
    df = make_frame(n=100)
    df = pd.concat([df, df.iloc[:3]], ignore_index=True)
    prep = prepare_frame(df, params(prepare={"drop_duplicates": False}), common())
    assert "duplicates" not in prep.dropped and prep.rows["after_cleaning"] == 103


def test_date_features_replace_date_columns():
    df = make_frame(n=200)
    df["opened"] = df["signup"].dt.strftime("%d/%m/%Y")  # not ISO: only parsed because it is declared
    prep = prepare_frame(df, params(prepare={"date_columns": ["opened"]}), common())
    cols = set(prep.frames["train"].columns)
    assert {"opened_year", "opened_month", "opened_dayofweek"} <= cols
    # signup is a datetime that was not declared: expanded too, with a note
    assert {"signup_year", "signup_month", "signup_dayofweek"} <= cols
    assert "signup" not in cols and "opened" not in cols
    assert prep.date_features["signup"] == ["signup_year", "signup_month", "signup_dayofweek"]
    assert any("signup" in n and "date_columns" in n for n in prep.notes)
    train = prep.frames["train"]
    assert train["signup_year"].eq(2024).all() and train["signup_month"].between(1, 12).all()
    assert not any(pd.api.types.is_datetime64_any_dtype(t) for t in train.dtypes)


def test_bad_declared_date_column_is_a_data_error():
    df = make_frame(n=50)
    df["opened"] = "not a date"
    with pytest.raises(DataError, match="opened"):
        prepare_frame(df, params(prepare={"date_columns": ["opened"]}), common())


def test_type_coercion():
    df = make_frame(n=120)
    df["amount"] = [f"{v:.2f}" for v in df["x1"]]
    df["active"] = np.where(df["flag"], "True", "false")
    df["zip"] = [f"{i % 50:05d}" for i in range(len(df))]  # leading zeros: a code, not a number
    df.loc[3, "amount"] = None
    prep = prepare_frame(df, params(prepare={"drop_columns": ["count"]}), common())
    train = prep.frames["train"]
    assert pd.api.types.is_float_dtype(train["amount"])
    assert pd.api.types.is_bool_dtype(train["active"])
    assert not pd.api.types.is_numeric_dtype(train["zip"])
    assert train["target"].isin(["no", "yes"]).all()  # the classification target is left alone
    assert "count" not in train.columns
    assert prep.coerced["amount"] == "numeric" and prep.coerced["active"] == "boolean"


def test_single_class_target_is_an_error():
    df = make_frame(n=100)
    df["target"] = "yes"
    with pytest.raises(DataError, match="single class"):
        prepare_frame(df, params(), common())


def test_unknown_target_names_the_nearest_column():
    df = make_frame(n=50).rename(columns={"target": "targets"})
    with pytest.raises(ConfigError) as exc:
        prepare_frame(df, params(), common())
    assert "'targets'" in exc.value.hint


def test_unknown_drop_column_is_a_config_error():
    with pytest.raises(ConfigError, match="colour_x") as exc:
        prepare_frame(make_frame(n=50), params(prepare={"drop_columns": ["colour_x"]}), common())
    assert "colour" in exc.value.hint


def test_regression_target_must_be_numeric():
    df = make_frame("regression", n=80)
    df["target"] = df["target"].astype(str)  # numeric text is fine: coerced
    prep = prepare_frame(df, params(), common("regression"))
    assert pd.api.types.is_float_dtype(prep.frames["train"]["target"])
    df["target"] = "high"
    with pytest.raises(DataError, match="not numeric"):
        prepare_frame(df, params(), common("regression"))


def test_same_seed_same_split_other_seed_other_split():
    df = make_frame(n=300)
    a = prepare_frame(df, params(method="stratified"), common(seed=1))
    b = prepare_frame(df, params(method="stratified"), common(seed=1))
    c = prepare_frame(df, params(method="stratified"), common(seed=2))
    assert frame_hash(a.frames["test"]) == frame_hash(b.frames["test"])
    assert frame_hash(a.frames["test"]) != frame_hash(c.frames["test"])


# --- the stage: files, manifest, EDA report ---------------------------------------------


def _assert_self_contained(html: str) -> None:
    assert "<img" in html or "<svg" in html
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", html, flags=re.I)
    assert refs and not [r for r in refs if r.lower().startswith(("http:", "https:", "//"))]
    assert "<script" not in html.lower() and "<link" not in html.lower()


@pytest.mark.parametrize(("task", "n_classes"), [("classification", 2), ("classification", 3), ("regression", 2)])
def test_run_writes_splits_manifest_and_eda(raw_project, task, n_classes):
    root = raw_project(make_frame(task, n=240, n_classes=n_classes), task)
    result = run_project(root, task, split={"method": "stratified" if task == "classification" else "random"})
    assert result.rows["after_cleaning"] == 240 and result.manifest == "data/processed/manifest.json"
    manifest = read_json(root / "data" / "processed" / "manifest.json")
    for name in ("train", "validation", "test"):
        frame = pd.read_parquet(root / "data" / "processed" / f"{name}.parquet")
        assert len(frame) == manifest["rows"][name] == result.rows[name]
        assert manifest["data_hash"][name] == frame_hash(frame)
        assert [c["name"] for c in manifest["columns"]] == list(frame.columns)
    assert manifest["target"] == "target" and manifest["task"] == task
    assert "signup" in manifest["date_features"] and "signup" not in manifest["features"]
    if task == "classification":
        assert len(manifest["classes"]) == n_classes
        assert sum(manifest["class_counts"]["test"].values()) == manifest["rows"]["test"]
    else:
        assert "classes" not in manifest
    html = (root / "reports" / "eda.html").read_text()
    _assert_self_contained(html)
    assert html.count("<img") >= 3 + 6  # target, missing, association + one per feature
    md = (root / "reports" / "eda.md").read_text()
    assert "| column | kind |" in md and "x2" in md and "## Top associations" in md


def test_missing_input_is_not_found(raw_project):
    root = raw_project()
    (root / "data" / "raw" / "data.parquet").unlink()
    with pytest.raises(InputNotFoundError, match="not found") as exc:
        run_project(root)
    assert "collect" in exc.value.hint


def test_failure_leaves_no_partial_output(raw_project):
    df = make_frame(n=100)
    df["target"] = "no"
    root = raw_project(df)
    with pytest.raises(DataError):
        run_project(root)
    assert not (root / "data" / "processed").exists() and not (root / "reports").exists()


# --- the CLI -----------------------------------------------------------------------------


def test_cli_help():
    result = runner.invoke(app, ["prepare", "--help"])
    assert result.exit_code == 0
    assert "--project" in result.output and "EDA" in result.output


def test_cli_prepare_writes_empty_validation_when_asked(raw_project):
    root = raw_project(split={"method": "random", "validation_size": 0}, eda_max_features=1)
    result = runner.invoke(app, ["prepare", "-C", str(root)])
    assert result.exit_code == 0, result.output
    assert "train" in result.output and "eda.html" in result.output
    assert "signup" in result.output  # the note about the undeclared datetime column
    assert "plots show the 1 features" in (root / "reports" / "eda.html").read_text()
    val = pd.read_parquet(root / "data" / "processed" / "validation.parquet")
    train = pd.read_parquet(root / "data" / "processed" / "train.parquet")
    assert len(val) == 0 and list(val.columns) == list(train.columns)


def test_cli_prepare_json(raw_project):
    root = raw_project(make_frame(n=150), eda_max_features=1)
    result = runner.invoke(app, ["prepare", "-C", str(root), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["rows"]["after_cleaning"] == 150 and data["reports"]["html"] == "reports/eda.html"
    assert (root / "data" / "processed" / "manifest.json").exists()


def test_cli_exit_codes(raw_project):
    df = make_frame(n=100)
    root = raw_project(df)
    params_file = root / "params.yaml"
    params_file.write_text(params_file.read_text().replace("target: target", "target: targt"))
    result = runner.invoke(app, ["prepare", "-C", str(root)])
    assert result.exit_code == 2
    assert "targt" in result.output and "did you mean 'target'" in result.output
    params_file.write_text(params_file.read_text().replace("target: targt", "target: target"))
    df["target"] = "yes"
    df.to_parquet(root / "data" / "raw" / "data.parquet", index=False)
    result = runner.invoke(app, ["prepare", "-C", str(root)])
    assert result.exit_code == 4 and "single class" in result.output
    (root / "data" / "raw" / "data.parquet").unlink()
    assert runner.invoke(app, ["prepare", "-C", str(root)]).exit_code == 3


# --- EDA computations and the report toolkit ----------------------------------------------


def test_eda_caps_rows_and_plotted_features():
    from mlctl.stages.prepare.eda import explore

    df = make_frame(n=400).drop(columns=["signup"])
    eda = explore(df, "target", "classification", max_rows=100, max_features=3)
    assert len(eda.sample) == 100 and eda.rows == 400
    assert eda.plotted == list(eda.associations["feature"][:3])
    assert any("sample" in n for n in eda.notes) and any("3 features" in n for n in eda.notes)
    top = eda.associations.iloc[0]
    assert top["feature"] == "x1" and top["value"] > 0.3  # x1 drives the target in make_frame


def test_eda_association_measures():
    from mlctl.stages.prepare.eda import cramers_v, explore

    a = pd.Series(list("aabb") * 50)
    assert cramers_v(a, a) == pytest.approx(1.0)
    assert cramers_v(a, pd.Series(list("xyxy") * 50)) == pytest.approx(0.0)
    eda = explore(make_frame("regression", n=200).drop(columns=["signup"]), "target", "regression")
    measures = dict(zip(eda.associations["feature"], eda.associations["measure"], strict=True))
    assert measures["x1"] == "pearson r" and measures["colour"] == "correlation ratio η"


def test_html_report_escapes_and_embeds():
    from mlctl.render import markdown_table
    from mlctl.render.htmlpage import HtmlReport
    from mlctl.render.plots import figure, hist

    fig, ax = figure(3, 2)
    hist(ax, np.arange(50.0))
    rep = HtmlReport("T <1>").heading("Part").text("a <script>x</script>").heading("Two")
    rep.table(pd.DataFrame({"<b>": [1.23456, None]})).figure(fig, "cap")
    html = rep.render()
    assert "<script>x" not in html and "&lt;script&gt;" in html and "&lt;b&gt;" in html
    assert 'src="data:image/png;base64,' in html and 'href="#part"' in html
    _assert_self_contained(html)
    assert markdown_table(pd.DataFrame({"a|b": [1.5]})) == "| a|b |\n|---|\n| 1.5 |\n"


def test_type_coercion_judges_every_value_not_only_the_first_thousand():
    """The cheap look at the first values only rules columns out: one bad value far down still keeps text."""
    from mlctl.data.cleaning import SAMPLE, coerce_types

    n = SAMPLE * 3
    df = pd.DataFrame(
        {
            "amount": [str(i) for i in range(n)],
            "late_text": [str(i) for i in range(n - 1)] + ["n/a"],
            "flags": ["true", "false"] * (n // 2),
            "late_flag": ["true"] * (n - 1) + ["maybe"],
            "late_zero": [str(i + 10) for i in range(n - 1)] + ["0123"],
        }
    )
    out, report = coerce_types(df, date_columns=[])
    assert report.converted == {"amount": "numeric", "flags": "boolean"}
    for name in ("late_text", "late_flag", "late_zero"):
        assert out[name].tolist() == df[name].tolist()
    assert any(note.startswith("late_zero: kept as text") for note in report.notes)


def test_drop_duplicates_drops_exactly_the_rows_pandas_duplicated_finds():
    """Row keys only choose which rows to compare: equal rows under pandas' rules (-0.0 == 0.0, NaN == NaN,
    None == NaN in text, 1 == 1.0 in mixed objects, NaT, categories, nullable ints) are found, nothing else."""
    import numpy as np
    import pandas as pd

    from mlctl.data.cleaning import drop_duplicates

    rng = np.random.default_rng(4)
    n = 3000
    df = pd.DataFrame(
        {
            "x": rng.choice([0.0, -0.0, 1.5, np.nan], n),
            "k": rng.integers(0, 3, n),
            "s": pd.Series(rng.choice(["a", "b", None, np.nan], n), dtype=object),
            "o": pd.Series([1, 1.0, "1", None][i % 4] for i in rng.integers(0, 4, n)),
            "d": pd.Series(pd.to_datetime(rng.choice(["2024-01-01", "2024-02-01", None], n))),
            "c": pd.Series(rng.choice(["u", "v"], n), dtype="category"),
            "i": pd.Series(rng.choice([1, 2, None], n), dtype="Int64"),
            "id": np.arange(n),
        }
    )
    for ignore in ([], ["id"]):
        expected = df.drop_duplicates(subset=[c for c in df.columns if c not in ignore], keep="first")
        got, dropped = drop_duplicates(df, ignore=ignore)
        assert got.index.equals(expected.index) and dropped == n - len(expected)
    assert drop_duplicates(df, ignore=["id"])[1] > 1000  # the case above had duplicates to find
