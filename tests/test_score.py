"""`mlctl score`: the ML Test Score of a project, test by test, from what it configures and runs."""

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
from mlctl.params import parse_params
from mlctl.stages.score import judge, markdown
from mlctl.stages.score.evidence import Context, Workflow, read_workflow
from mlctl.stages.score.rubric import SECTIONS, TESTS

runner = CliRunner()
PIPELINE = ["collect", "validate", "prepare", "train", "evaluate", "gate", "export", "predict", "bundle"]


def _workflows(ct: bool = True) -> dict[str, Workflow]:
    flows = {
        "ci": Workflow(
            ".github/workflows/ci.yml",
            {"pull_request", "push"},
            ["python -m pytest -q", "mlctl params check", "mlctl run", "mlctl bench", "mlctl report --post"],
        ),
        "cd": Workflow(
            ".github/workflows/cd.yml", {"push"}, ["mlctl gate", "mlctl smoke URL", "mlctl registry promote m v prod"]
        ),
    }
    if ct:
        flows["ct"] = Workflow(".github/workflows/ct.yml", {"schedule"}, ['mlctl monitor "$CURRENT"'])
    return flows


FULL = {
    "target": "y",
    "task": "classification",
    "collect": {"sources": [{"name": "d", "path": "data/sources/d.csv"}]},
    "validate": {"personal_data": ["email"]},
    "train": {"candidates": ["random_forest"], "spaces": {"random_forest": {"max_depth": [4, 8]}}},
    "evaluate": {"slices": ["region"], "sensitive": "sex", "staleness": {"time_column": "when"}},
    "gate": {"slice_max_drop": {"roc_auc": 0.1}, "max_fairness_gap": 0.2, "champion": {"ref": "model@prod"}},
}


def context(tmp_path: Path, ct: bool = True, **changes) -> Context:
    data = yaml.safe_load(yaml.safe_dump(FULL))
    for key, value in changes.items():
        section, _, name = key.partition("__")
        data.setdefault(section, {})[name] = value
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data/schema.yaml").write_text("columns: {}\n")
    for name in ("params.yaml", "dvc.yaml"):
        (tmp_path / name).write_text("{}\n")
    stages = {s: {} for s in PIPELINE}
    stages["evaluate"] = {"metrics": [{"metrics/features.json": {"cache": False}}]}
    return Context(parse_params(data), stages, _workflows(ct), tmp_path, ["tests/test_project.py"])


def status(result, test_id: str) -> str:
    return next(t.status for t in result.tests if t.id == test_id)


def test_every_test_of_the_rubric_once_and_the_score_is_the_lowest_section(tmp_path):
    expected = [f"{prefix}{i}" for prefix in ("D", "M", "I", "Mo") for i in range(1, 8)]
    assert [t[0] for t in TESTS] == expected
    result = judge(context(tmp_path))
    assert list(result.sections) == list(SECTIONS)
    for section in SECTIONS:
        points = [t.points for t in result.tests if t.section == section]
        assert len(points) == 7 and result.sections[section] == sum(points)
    assert result.score == min(result.sections.values()) >= 6
    text = markdown(result)
    assert text.startswith(f"# ML Test Score: {result.score:g}") and text.count("\n| ") >= 28 + 4


@pytest.mark.parametrize(
    ("test_id", "changes", "before", "after"),
    [
        ("M6", {"gate__slice_max_drop": {}}, "automated", "manual"),
        ("M6", {"evaluate__slices": [], "gate__slice_max_drop": {}}, "automated", "missing"),
        ("M7", {"gate__max_fairness_gap": None}, "automated", "manual"),
        ("M4", {"evaluate__staleness": {}}, "automated", "missing"),
        ("M3", {"train__spaces": {}}, "automated", "manual"),
        ("Mo4", {"monitor__policy": {"staleness": "ignore"}}, "automated", "manual"),
        ("Mo5", {"monitor__policy": {"numerical_health": "ignore"}}, "automated", "manual"),
        ("I7", {"gate__champion": {"ref": "main"}}, "automated", "manual"),
        ("D3", {"gate__max_latency_ms": 50.0}, "manual", "automated"),
    ],
)
def test_the_evidence_changes_when_a_check_is_switched(tmp_path, test_id, changes, before, after):
    assert status(judge(context(tmp_path)), test_id) == before
    assert status(judge(context(tmp_path, **changes)), test_id) == after


def test_without_listed_personal_data_the_control_is_the_strict_schema(tmp_path):
    ctx = context(tmp_path, validate__personal_data=[])
    d5 = next(t for t in judge(ctx).tests if t.id == "D5")
    assert d5.status == "automated" and "fails on any column not in data/schema.yaml" in d5.evidence
    del ctx.stages["validate"]
    result = judge(ctx)
    assert status(result, "D5") == status(result, "D4") == "missing"


def test_without_continuous_training_monitoring_is_manual(tmp_path):
    result = judge(context(tmp_path, ct=False))
    assert {status(result, f"Mo{i}") for i in (2, 4, 5, 7)} == {"manual"}
    assert status(result, "M2") == "manual" and result.sections["Monitoring"] < 6


def test_canary_is_automated_by_a_shadow_and_replay_in_cd(tmp_path):
    ctx = context(tmp_path)
    assert "smoke" in next(t.evidence for t in judge(ctx).tests if t.id == "I6")
    ctx.workflows["cd"].scripts += ["mlctl serve --model m@prod --shadow models/model.onnx", "mlctl replay staging.log"]
    i6 = next(t for t in judge(ctx).tests if t.id == "I6")
    assert i6.status == "automated" and "shadow" in i6.evidence and "replay" in i6.evidence


def test_a_commented_out_or_manual_only_step_does_not_count(tmp_path):
    flow = tmp_path / "ct.yml"
    flow.write_text(
        "on:\n  workflow_dispatch:\njobs:\n  a:\n    steps:\n      - run: |\n          # mlctl run\n"
        "          mlctl monitor data.csv  # the check\n"
    )
    w = read_workflow(flow, "ct.yml")
    assert w.triggers == {"workflow_dispatch"} and not w.automatic
    assert w.runs(r"\bmlctl monitor\b") and not w.runs(r"\bmlctl run\b")
    ctx = context(tmp_path)
    ctx.workflows["ct"] = w
    assert status(judge(ctx), "Mo4") == "manual"


# -- a project made by `mlctl init`, with no hand edits ------------------------------------------------


def people(n: int = 1500, seed: int = 7) -> pd.DataFrame:
    """A year of records: a date, a protected attribute, a categorical slice column and personal data."""
    rng = np.random.default_rng(seed)
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 365, n)), unit="D")
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    region = rng.choice(["north", "south", "east"], n)
    drift = np.arange(n) / n  # the label moves from x1 to x2 over the year
    score = (1 - drift) * x1 + drift * x2 + (region == "north") * 0.5 + rng.normal(scale=0.5, size=n)
    first = rng.choice(["Anna", "Bernd", "Clara", "David", "Emma", "Felix", "Greta", "Hans", "Ida", "Jonas"], n)
    return pd.DataFrame(
        {
            "when": when.strftime("%Y-%m-%d"),
            "first_name": first,
            "email": [f"{f.lower()}.{i}@example.org" for i, f in enumerate(first)],
            "sex": rng.choice(["female", "male"], n),
            "region": region,
            "x1": x1.round(4),
            "x2": x2.round(4),
            "outcome": np.where(score > 0.2, "yes", "no"),
        }
    )


def mlctl(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "mlctl", *args], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.slow
def test_a_project_made_by_init_scores_at_least_6_in_every_section(tmp_path):
    data = tmp_path / "people.csv"
    people().to_csv(data, index=False)
    root = tmp_path / "project"
    made = runner.invoke(app, ["init", str(root), "--data", str(data), "--target", "outcome", "--yes", "--json"])
    assert made.exit_code == 0, made.output
    ran = mlctl(root, "run")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    scored = mlctl(root, "score", "--json", "--markdown", "reports/score.md")
    assert scored.returncode == 0, scored.stderr
    result = json.loads(scored.stdout)
    assert all(v >= 6 for v in result["sections"].values()), result["sections"]
    assert result["score"] == min(result["sections"].values())
    by_id = {t["id"]: t for t in result["tests"]}
    assert "region" in by_id["M6"]["evidence"] and by_id["M6"]["status"] == "automated"
    assert "`sex`" in by_id["M7"]["evidence"] and by_id["M7"]["status"] == "automated"
    assert "maximum age" in by_id["M4"]["evidence"] and by_id["M4"]["status"] == "automated"  # the curve was measured
    assert "email" in by_id["D5"]["evidence"] and "first_name" in by_id["D5"]["evidence"]
    assert ".github/workflows/ct.yml runs `mlctl monitor`" in by_id["Mo4"]["evidence"]
    assert "days from the staleness curve" in by_id["Mo4"]["evidence"]
    assert (root / "reports/score.md").read_text().startswith(f"# ML Test Score: {result['score']:g}")
    table = mlctl(root, "score")
    assert table.returncode == 0 and "Mo7" in table.stdout and "score " in table.stdout

    # switched off by hand: the evidence follows
    params = yaml.safe_load((root / "params.yaml").read_text())
    del params["gate"]["slice_max_drop"]
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    after = json.loads(mlctl(root, "score", "--json").stdout)
    m6 = next(t for t in after["tests"] if t["id"] == "M6")
    assert m6["status"] == "manual" and after["sections"]["Model"] == result["sections"]["Model"] - 0.5
