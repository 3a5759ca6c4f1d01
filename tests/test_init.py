"""`mlctl init`: role inference, first-time-user errors, and init → `mlctl run` on messy data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.core.errors import EXIT_DATA_INVALID, EXIT_NOT_FOUND, EXIT_USAGE
from mlctl.stages.init.files import workflow_templates
from mlctl.stages.init.roles import DATES, DROP, FORBIDDEN, analyse, infer_task

runner = CliRunner()
WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "tau"]
FIRST = ["Anna", "Bram", "Carla", "Daan", "Eva", "Finn", "Gijs", "Hanna", "Ivo", "Julia", "Kees", "Lotte"]
LAST = ["Jansen", "de Vries", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Vos", "Peters", "Dekker"]


def classification_frame(n: int = 300, seed: int = 1) -> pd.DataFrame:
    """Every trap at once: id, free text, date, high-cardinality, constant, 97% missing, a copy of the target."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.uniform(0, 10, n)
    colour = rng.choice(["red", "green", "blue"], n)
    score = 2 * x1 + 0.3 * x2 + (colour == "red") + rng.normal(0, 0.5, n)
    y = np.where(score > np.quantile(score, 0.85), "approved", "rejected")  # imbalanced: 15% approved
    return pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1000 + n),
            "x1": x1,
            "x2": x2,
            "colour": colour,
            "city": [f"city{i:03d}" for i in rng.integers(0, 60, n)],  # 60 levels, repeated: kept
            "notes": [" ".join(rng.choice(WORDS, 6)) + f" #{i}" for i in range(n)],
            "signup": (pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 500, n), unit="D")).strftime(
                "%Y-%m-%d"
            ),
            "source": "web",
            "sparse": np.where(rng.random(n) < 0.03, rng.normal(size=n), np.nan),
            "status_copy": y,
            "first_name": rng.choice(FIRST, n),  # personal data, generated: never features
            "last_name": rng.choice(LAST, n),
            "email": [f"user{i}@example.org" for i in rng.permutation(n)],
            "phone": [f"+31 6 {v}" for v in rng.integers(10_000_000, 99_999_999, n)],
            "outcome": y,
        }
    )


def regression_frame(n: int = 300, seed: int = 2) -> pd.DataFrame:
    """A numeric target with a rescaled copy, a row counter, US-style dates and a near-unique code."""
    rng = np.random.default_rng(seed)
    area = rng.uniform(30, 200, n)
    rooms = rng.integers(1, 6, n)
    district = rng.choice(["north", "south", "east", "west"], n)
    price = 1000 * area + 5000 * rooms + np.where(district == "north", 20000, 0) + rng.normal(0, 5000, n)
    return pd.DataFrame(
        {
            "row": np.arange(n),
            "area": area,
            "rooms": rooms,
            "district": district,
            "listing_code": [f"L-{v}" for v in rng.choice(100_000, n, replace=False)],
            "description": [" ".join(rng.choice(WORDS, 8)) for _ in range(n)],
            "listed": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")).strftime(
                "%m/%d/%Y"
            ),
            "country": "NL",
            "mostly_missing": np.where(rng.random(n) < 0.02, 1.0, np.nan),
            "price_cents": price * 100,
            "price": price,
        }
    )


def multiclass_frame(n: int = 300, seed: int = 3) -> pd.DataFrame:
    """Parquet input: an integer class target, its names as a column, a uuid and a native datetime."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    grade = np.digitize(a + 0.5 * b + rng.normal(0, 0.3, n), [-0.5, 0.5])
    return pd.DataFrame(
        {
            "uuid": [f"{rng.integers(1 << 62):016x}" for _ in range(n)],
            "a": a,
            "b": b,
            "kind": rng.choice(["x", "y"], n),
            "seen": pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 90, n), unit="D"),
            "grade_name": np.array(["low", "mid", "high"])[grade],
            "grade": grade,
        }
    )


# ---- inference (pure, fast) ---------------------------------------------------------------


def test_task_is_inferred_from_the_target():
    assert infer_task(pd.Series(["yes", "no", "yes"]))[0] == "classification"
    assert infer_task(pd.Series([0, 1, 2, 1, 0] * 20))[0] == "classification"
    assert infer_task(pd.Series(np.linspace(0, 1, 100)))[0] == "regression"
    assert infer_task(pd.Series(np.arange(100)))[0] == "regression"  # many distinct integers


def test_every_trap_is_found_with_its_reason():
    roles = {r.name: r for r in analyse(classification_frame(), "outcome")}
    expected = {
        "customer_id": ("id", DROP),
        "notes": ("text", DROP),
        "signup": ("date", DATES),
        "source": ("constant", DROP),
        "sparse": ("empty", DROP),
        "status_copy": ("leak", FORBIDDEN),
        "city": ("high_cardinality", None),
        "x1": ("feature", None),
        "colour": ("feature", None),
    }
    for name, (role, where) in expected.items():
        assert (roles[name].role, roles[name].where) == (role, where), (name, roles[name])
        assert roles[name].reason or role == "feature"


def test_regression_traps():
    roles = {r.name: r for r in analyse(regression_frame(), "price")}
    assert roles["row"].role == "id"
    assert roles["listing_code"].role in ("id", "high_cardinality") and roles["listing_code"].excluded
    assert roles["description"].role == "text"
    assert roles["listed"].where == DATES  # 03/15/2024 is a date too
    assert roles["price_cents"].where == FORBIDDEN and "rescaled" in roles["price_cents"].reason
    assert not roles["area"].excluded and not roles["rooms"].excluded


def test_exclude_and_keep_override_inference():
    roles = {r.name: r for r in analyse(classification_frame(), "outcome", exclude=["x2"], keep=["customer_id"])}
    assert roles["x2"].where == DROP and "--exclude" in roles["x2"].reason
    assert roles["customer_id"].where is None and "--keep" in roles["customer_id"].reason


def test_workflow_templates_refer_only_to_what_a_project_has():
    """The generated workflows are executed by tests/test_generated_workflows.py; here: no file of this repository."""
    shipped = workflow_templates()
    assert set(shipped) == {"ci.yml", "cd.yml", "ct.yml"}
    for name, text in shipped.items():
        for ours in ("benchmarks/", "mlctl/cli", "mlctl/templates", "docs/", "gh pr ", "gh release "):
            assert ours not in text, f"{name} refers to {ours!r}, which a generated project does not have"


# ---- errors a first-time user hits ---------------------------------------------------------


@pytest.fixture
def csv(tmp_path) -> Path:
    path = tmp_path / "data.csv"
    classification_frame(60).to_csv(path, index=False)
    return path


def init(*args: str):
    result = runner.invoke(app, ["init", *args])
    result.text = " ".join(result.output.split())  # rich wraps long messages
    return result


def test_unknown_target_suggests_the_nearest_columns(tmp_path, csv):
    result = init(str(tmp_path / "p"), "--data", str(csv), "--target", "outcom")
    assert result.exit_code == EXIT_USAGE, result.output
    assert "'outcom' is not in the data" in result.text and "did you mean 'outcome'" in result.text
    assert not (tmp_path / "p").exists()


def test_non_empty_directory_is_refused(tmp_path, csv):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "keep.txt").write_text("mine")
    result = init(str(tmp_path / "p"), "--data", str(csv), "--target", "outcome")
    assert result.exit_code == EXIT_USAGE
    assert "not empty" in result.text and "keep.txt" in result.text
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["keep.txt"]


def test_missing_data_file(tmp_path):
    result = init(str(tmp_path / "p"), "--data", str(tmp_path / "nope.csv"), "--target", "y")
    assert result.exit_code == EXIT_NOT_FOUND
    assert "data file not found" in result.text and "nope.csv" in result.text


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(100), "unsupported file type '.png'"),
        ("photo.csv", b"\x89PNG\r\n\x1a\n" + bytes(100), "the file is a PNG image"),
        ("noise.csv", bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8)), "binary data"),
        ("fake.parquet", b"a,b\n1,2\n", "not a Parquet file"),
        ("one.csv", b"a;b;c\n1;2;3\n", "semicolon"),
    ],
)
def test_files_that_are_not_tables(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    result = init(str(tmp_path / "p"), "--data", str(path), "--target", "a")
    assert result.exit_code == EXIT_DATA_INVALID, result.output
    assert message.replace("semicolon", '";"') in result.text, result.output
    assert not (tmp_path / "p").exists()


def test_regression_on_a_label_target_is_refused(tmp_path, csv):
    result = init(str(tmp_path / "p"), "--data", str(csv), "--target", "outcome", "--task", "regression")
    assert result.exit_code == EXIT_USAGE
    assert "--task classification" in result.text


def test_exclude_of_an_unknown_column(tmp_path, csv):
    result = init(str(tmp_path / "p"), "--data", str(csv), "--target", "outcome", "--exclude", "colr")
    assert result.exit_code == EXIT_USAGE and "did you mean 'colour'" in result.text


# ---- init → mlctl run on messy data (slow) ---------------------------------------------------


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "mlctl", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"mlctl {args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


def git_files(root: Path) -> list[str]:
    return subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()


CASES = {
    "classification": (classification_frame, "outcome", "clf.csv"),
    "regression": (regression_frame, "price", "houses.csv"),
    "parquet": (multiclass_frame, "grade", "grades.parquet"),
}


@pytest.fixture(scope="module", params=list(CASES))
def project(request, tmp_path_factory):
    make, target, name = CASES[request.param]
    tmp = tmp_path_factory.mktemp(request.param)
    data = tmp / name
    df = make()
    df.to_parquet(data, index=False) if name.endswith(".parquet") else df.to_csv(data, index=False)
    root = tmp / "project"
    result = init(str(root), "--data", str(data), "--target", target, "--yes", "--quick", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    run(root, "run")
    return request.param, root, report


@pytest.mark.slow
def test_init_then_run_produces_every_artifact(project):
    case, root, report = project
    for rel in [
        "data/raw/data.parquet",
        "reports/validation.json",
        "data/processed/train.parquet",
        "data/processed/validation.parquet",
        "data/processed/test.parquet",
        "models/model.skops",
        "models/baseline.skops",
        "metrics/evaluate.json",
        "reports/eda.html",
        "reports/model_card.md",
        "models/model.onnx",
        "models/model.json",
    ]:
        assert (root / rel).exists(), rel
    assert json.loads((root / "reports/gate.json").read_text())["passed"] is True
    manifest = json.loads((root / "models/model.json").read_text())
    expected_task = "regression" if case == "regression" else "classification"
    assert manifest["task"] == expected_task == report["analysis"]["task"]


@pytest.mark.slow
def test_excluded_columns_are_listed_with_reasons_and_never_model_inputs(project):
    case, root, report = project
    text = (root / "params.yaml").read_text()
    params = yaml.safe_load(text)
    excluded = [r for r in report["analysis"]["roles"] if r["excluded"]]
    assert len(excluded) >= (2 if case == "parquet" else 5)
    inputs = {i["name"] for i in json.loads((root / "models/model.json").read_text())["inputs"]}
    listed = set(params["prepare"]["drop_columns"]) | set(params["train"]["forbidden"])
    listed |= set(params["validate"]["personal_data"])
    if case == "classification":
        assert {"first_name", "last_name", "email", "phone"} <= set(params["validate"]["personal_data"])
        assert not {"first_name", "last_name", "email", "phone"} & inputs
    for role in excluded:
        assert role["name"] in listed
        assert f"#   {role['name']}" in text and role["reason"] in text  # the `# excluded:` block, with reasons
        assert role["name"] not in inputs
    for date in params["prepare"]["date_columns"]:
        assert f"{date}_year" in inputs


@pytest.mark.slow
def test_source_data_is_tracked_by_dvc_not_git(project):
    _, root, report = project
    source = report["source"]
    tracked = git_files(root)
    assert f"{source}.dvc" in tracked and source not in tracked
    assert (root / source).exists()
    assert yaml.safe_load((root / "params.yaml").read_text())["collect"]["sources"][0]["path"] == source
    assert "url = ../.dvcstore" in (root / ".dvc/config").read_text()
    assert "/.dvcstore/" in (root / ".gitignore").read_text()
    for rel in ["dvc.yaml", "params.yaml", "data/schema.yaml", "README.md", ".github/workflows/ci.yml"]:
        assert rel in tracked, rel
    log = subprocess.run(["git", "log", "--format=%s"], cwd=root, capture_output=True, text=True).stdout
    assert log.startswith("mlctl init:")


@pytest.mark.slow
def test_the_gate_judges_the_champion_and_the_slices_by_default(project):
    _, root, _ = project
    gate = yaml.safe_load((root / "params.yaml").read_text())["gate"]
    assert gate["champion"] == {"ref": "model@prod", "fallback": "main", "tolerance": 0.01}
    report = json.loads((root / "reports/gate.json").read_text())
    first = next(r for r in report["rules"] if r["rule"] == "champion")
    assert first["skipped"] and "cannot be fetched" in first["detail"]  # main has no model yet: never passed
    assert gate["slice_max_drop"] and yaml.safe_load((root / "params.yaml").read_text())["evaluate"]["slices"]
    drops = [r for r in report["rules"] if r["rule"] == "slice_drop"]
    assert drops and all(r["passed"] for r in drops)
    assert all("worst slice" in r["detail"] or "too small to judge" in r["detail"] for r in drops)
    # once the model is committed on main, the next gate compares with it on the same rows
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x.invalid"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x.invalid"}
    subprocess.run(["git", "commit", "-qm", "first model"], cwd=root, check=True, env=env)
    run(root, "gate")
    report = json.loads((root / "reports/gate.json").read_text())
    rule = next(r for r in report["rules"] if r["rule"] == "champion")
    assert not rule["skipped"] and rule["passed"] and rule["value"] == 0.0
    assert report["champion"]["ref"] == "main" and report["champion"]["rows"] > 0


@pytest.mark.slow
def test_staleness_is_measured_where_there_is_a_date(project):
    _, root, _ = project
    params = yaml.safe_load((root / "params.yaml").read_text())
    dates = params["prepare"]["date_columns"]
    data = json.loads((root / "metrics/staleness.json").read_text())
    card = (root / "reports/model_card.md").read_text()
    if not dates:
        assert "staleness" not in params["evaluate"] and not data["enabled"] and "monitor" not in params
        return
    assert params["evaluate"]["staleness"]["time_column"] == dates[0]
    assert params["monitor"]["staleness"] == "metrics/staleness.json"
    assert data["enabled"] and data["max_age_days"] > 0 and len(data["points"]) >= 2, data
    assert f"**Maximum model age: {data['max_age_days']:g} days**" in card


@pytest.mark.slow
def test_the_ml_test_score_of_a_project_made_by_init(project):
    """--quick tries one configuration per candidate (M3 manual); every other test scores as without it."""
    _, root, _ = project
    result = json.loads(run(root, "score", "--json").stdout)
    by_id = {t["id"]: t for t in result["tests"]}
    assert by_id["M3"]["status"] == "manual" and "no search" in by_id["M3"]["evidence"]
    assert by_id["M4"]["status"] == by_id["M6"]["status"] == by_id["Mo4"]["status"] == "automated"
    sections = result["sections"]
    assert sections["Model"] + 0.5 >= 6 and all(sections[s] >= 6 for s in ("Data", "Infrastructure", "Monitoring"))
