"""`mlctl report`: the pull-request report against a base revision, and posting it on the pull request."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.core.errors import ConfigError, ExternalError
from mlctl.core.project import Project
from mlctl.params import load_params
from mlctl.stages.report import github, run
from mlctl.stages.report.diff import MetricRow, direction, flatten_metrics, param_rows
from mlctl.stages.report.github import MARKER
from tests.conftest import git
from tests.report_helpers import FakeGitHub, two_commit_project

runner = CliRunner()


def _run(root: Path, **kwargs):
    params = load_params(root / "params.yaml")
    return run(params.report, params.common, Project(root), **kwargs)


def _event(tmp_path: Path, number: int = 7) -> Path:
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"action": "synchronize", "pull_request": {"number": number}}))
    return path


def _env(fake: FakeGitHub, event: Path, token: str = "tok") -> dict[str, str]:
    return {
        "GITHUB_TOKEN": token,
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_API_URL": fake.url,
    }


# -- pure pieces ---------------------------------------------------------------------------


def test_direction_and_verdicts():
    assert direction("model.roc_auc") == "higher"
    assert direction("model.log_loss.low") == "lower"  # an interval bound keeps its metric's direction
    assert direction("slices[colour=red].metrics.rmse") == "lower"
    assert direction("rows") is None
    assert MetricRow("f", "model.accuracy", 0.8, 0.9, "higher").verdict == "better"
    assert MetricRow("f", "model.brier", 0.1, 0.2, "lower").verdict == "worse"
    assert MetricRow("f", "model.brier", 0.2, 0.1, "lower").verdict == "better"
    assert MetricRow("f", "rows", 10, 12, None).verdict == "changed"
    assert MetricRow("f", "model.f1", 0.5, 0.5, "higher").verdict == "same"
    assert MetricRow("f", "model.f1", None, 0.5, "higher").verdict == "new"
    row = MetricRow("f", "model.r2", 0.5, 0.6, "higher")
    assert row.relative == pytest.approx(20.0)


def test_flatten_keeps_labelled_lists_and_param_diff():
    flat = flatten_metrics({"slices": [{"column": "c", "value": "x", "metrics": {"f1": 0.5}}], "ok": True, "n": 3})
    assert flat == {"slices[c=x].metrics.f1": 0.5, "n": 3.0}  # booleans are not metrics
    rows = {
        r.key: r for r in param_rows({"a": {"b": 1, "l": [1, 2]}, "gone": 1}, {"a": {"b": 2, "l": [1, 2]}, "new": 3})
    }
    assert set(rows) == {"a.b", "gone", "new"}
    assert (rows["a.b"].base, rows["a.b"].this, rows["gone"].change, rows["new"].change) == (1, 2, "removed", "added")


# -- the report on a two-commit project ------------------------------------------------------


def test_report_against_base_branch(tmp_path):
    root = two_commit_project(tmp_path / "p")
    result = _run(root)
    data = result.data
    assert data["base"]["ref"] == "main"  # no origin/main here: main is the default base
    assert result.output == "reports/pr.md"
    rows = {r["key"]: MetricRow(**r) for r in data["metrics"][0]["rows"]}
    assert data["metrics"][0]["file"] == "metrics/evaluate.json"
    assert (rows["model.roc_auc"].base, rows["model.roc_auc"].this, rows["model.roc_auc"].verdict) == (
        0.8,
        0.85,
        "better",
    )
    assert rows["model.accuracy"].verdict == "worse"
    assert rows["model.log_loss"].verdict == "better"
    assert rows["model.f1"].verdict == "same"
    assert [p["key"] for p in data["params"]] == ["train.search.n_iter"]
    assert data["gate"]["passed"] is False
    packages = {p["package"]: p for p in data["packages"]}
    assert packages["sklearn"]["base"] == "1.5.0" and "changed since base" in packages["sklearn"]["notes"]
    assert packages["numpy"]["installed"] == np.__version__  # the installed version, found through metadata
    assert data["sources"][0]["status"] == "changed"
    perf = {p["key"]: MetricRow(**p) for p in data["perf"]}
    assert perf["single-row latency p50 (ms)"].verdict == "worse"
    assert not data["drift"]["available"] and "does not exist" in data["drift"]["reason"]
    text = (root / "reports/pr.md").read_text()
    assert text.startswith(MARKER)
    assert "| `model.roc_auc` | 0.8 | 0.85 | +0.05 | +6.2% | ▲ better |" in text
    assert "| `model.log_loss` | 0.45 | 0.4 | -0.05 | -11.1% | ▼ better |" in text
    assert "| `train.search.n_iter` | 4 | 8 |" in text
    assert "Not compared:" in text  # drift unavailable is said, not a failure
    assert "accuracy 0.79 vs 0.8 \\| minimum" in text  # a pipe inside a cell is escaped
    assert {p.name for p in (root / "reports/pr").iterdir()} == {
        "roc.png",
        "precision_recall.png",
        "calibration.png",
        "confusion.png",
        "feature_importance.png",
    }
    assert all(f["with_base"] for f in data["figures"])


class _Html(HTMLParser):
    """Collects tables (header cells), image sources and the text outside tables."""

    def __init__(self):
        super().__init__()
        self.tables, self.images, self.outside, self._depth, self._in_th = [], [], [], 0, False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._depth += 1
            self.tables.append([])
        elif tag == "th":
            self._in_th = True
            self.tables[-1].append("")
        elif tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        if tag == "table":
            self._depth -= 1
        elif tag == "th":
            self._in_th = False

    def handle_data(self, data):
        if self._in_th:
            self.tables[-1][-1] += data.strip()
        elif not self._depth:
            self.outside.append(data)


def test_markdown_renders_to_tables_and_images(tmp_path):
    import markdown

    root = two_commit_project(tmp_path / "p")
    _run(root)
    md = (root / "reports/pr.md").read_text()
    page = _Html()
    page.feed(markdown.markdown(md, extensions=["tables", "md_in_html"]))
    headers = page.tables
    assert ["metric", "base", "this", "delta", "change", ""] in headers
    assert ["key", "base", "this"] in headers
    assert ["rule", "metric", "value", "limit", "result", "detail"] in headers
    assert ["package", "base (trained)", "this (trained)", "installed", "notes"] in headers
    assert ["measure", "base", "this", "delta", "change", ""] in headers
    # the tables inside <details> (other metrics files) render as tables too
    assert sum(h == ["metric", "base", "this", "delta", "change", ""] for h in headers) >= 2
    assert len(page.images) == 5
    for src in page.images:
        assert not src.startswith(("http:", "https:", "/")), src  # relative links, never a third-party host
        assert (root / "reports" / src).is_file(), src
    leaked = [line for line in "".join(page.outside).splitlines() if line.strip().startswith("|") or "---|" in line]
    assert leaked == []


def test_comment_body_lists_images_and_links_the_run(tmp_path):
    root = two_commit_project(tmp_path / "p")
    with FakeGitHub() as fake:
        env = {**_env(fake, _event(tmp_path)), "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "42"}
        _run(root, post=True, env=env)
        body = fake.ours()[0]["body"]
    assert "![" not in body and "`reports/pr/roc.png`" in body  # a comment cannot show files of the checkout
    assert "https://github.com/o/r/actions/runs/42#artifacts" in body
    assert "https://github.com/o/r/actions/runs/42#artifacts" in (root / "reports/pr.md").read_text()


# -- base revision --------------------------------------------------------------------------


def test_base_defaults_and_override(tmp_path):
    root = two_commit_project(tmp_path / "p")
    git(root, "update-ref", "refs/remotes/origin/main", "main")
    assert _run(root).data["base"]["ref"] == "origin/main"
    head = _run(root, base="HEAD")  # --base wins: the committed head against the working tree
    assert head.data["params"] == [] and head.data["base"]["ref"] == "HEAD"
    res = runner.invoke(app, ["report", "--base", "no-such-rev", "-C", str(root)])
    assert res.exit_code == 3, res.output
    assert "no-such-rev" in res.output
    git(root, "update-ref", "-d", "refs/remotes/origin/main")
    git(root, "branch", "-m", "main", "old")
    assert _run(root).data["base"]["ref"] == "HEAD~1"
    res = runner.invoke(app, ["report", "--output", "reports/pr.txt", "-C", str(root)])
    assert res.exit_code == 2, res.output


# -- drift of the training data against the base's, read through DVC ------------------------


@pytest.mark.slow
def test_training_data_drift_through_dvc(tmp_path):
    from dvc.repo import Repo

    root = two_commit_project(tmp_path / "p")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=root, check=True, capture_output=True)
    rng = np.random.default_rng(0)
    path = root / "data/processed/train.parquet"
    path.parent.mkdir(parents=True)

    def frame(shift: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "x1": rng.normal(shift, 1, 400),
                "colour": rng.choice(["red", "blue"], 400),
                "target": rng.choice(["yes", "no"], 400),
            }
        )

    frame(0.0).to_parquet(path)
    with Repo(str(root)) as repo:
        repo.add(str(path))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "track the training data")
    git(root, "tag", "base-data")
    frame(1.5).to_parquet(path)  # this revision's training data moved by 1.5 std
    drift = _run(root, base="base-data").data["drift"]
    assert drift["available"], drift
    assert drift["drifted"] == ["x1"]
    assert {f["feature"] for f in drift["features"]} == {"x1", "colour"}
    assert "| x1 | numeric | ks |" in (root / "reports/pr.md").read_text()
    missing = _run(root, base="main").data["drift"]  # main never tracked the file: said, not a failure
    assert not missing["available"] and "not available" in missing["reason"]
    assert (
        "Not compared: the base's data/processed/train.parquet is not available" in (root / "reports/pr.md").read_text()
    )


# -- posting on the pull request -------------------------------------------------------------


def test_post_creates_then_updates_one_comment(tmp_path):
    root = two_commit_project(tmp_path / "p")
    event = _event(tmp_path)
    with FakeGitHub(others=120) as fake:  # 120 other comments: ours lands on page 2
        env = _env(fake, event)
        first = runner.invoke(app, ["report", "--post", "-C", str(root)], env=env)
        assert first.exit_code == 0, first.output
        assert [r["method"] for r in fake.requests] == ["GET", "GET", "POST"]  # both pages read before creating
        assert len(fake.ours()) == 1
        fake.requests.clear()
        (root / "metrics/evaluate.json").write_text(json.dumps({"model": {"roc_auc": 0.9}}))
        second = runner.invoke(app, ["report", "--post", "-C", str(root)], env=env)
        assert second.exit_code == 0, second.output
        assert "updated" in second.output
    methods = [(r["method"], r["query"].get("page", ["1"])[0]) for r in fake.requests]
    assert methods == [("GET", "1"), ("GET", "2"), ("PATCH", "1")]  # pagination followed to find our comment
    assert all(r["auth"] == "Bearer tok" for r in fake.requests)
    assert len(fake.ours()) == 1 and len(fake.comments) == 121  # updated, never a second comment
    assert "0.9" in fake.ours()[0]["body"]


def test_post_errors(tmp_path):
    root = two_commit_project(tmp_path / "p")
    event = _event(tmp_path)
    with FakeGitHub() as fake:
        res = runner.invoke(app, ["report", "--post", "-C", str(root)], env=_env(fake, event, token="wrong"))
        assert res.exit_code == 6 and "401" in res.output and "GITHUB_TOKEN" in res.output
        fake.status = 404
        res = runner.invoke(app, ["report", "--post", "-C", str(root)], env=_env(fake, event))
        assert res.exit_code == 6 and "404" in res.output
        port = fake.server.server_address[1]
    target = github.Target(f"http://127.0.0.1:{port}", "o/r", 7, "tok")  # the server is gone: connection refused
    with pytest.raises(ExternalError, match="cannot reach GitHub"):
        github.post("body", target, timeout=5)
    (root / "reports/pr.md").unlink()  # written before the refused post (the report itself was fine)
    res = runner.invoke(app, ["report", "--post", "-C", str(root)], env={"GITHUB_TOKEN": ""})
    assert res.exit_code == 2 and "GITHUB_TOKEN" in res.output
    assert not (root / "reports/pr.md").exists()  # refused before any work: no partial output
    (tmp_path / "push.json").write_text(json.dumps({"ref": "refs/heads/main"}))
    with pytest.raises(ConfigError, match="pull_request"):
        github.target_from_env(
            {"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "o/r", "GITHUB_EVENT_PATH": str(tmp_path / "push.json")}
        )


def test_fit_body_keeps_details_closed():
    body = MARKER + "\n<details>\n<summary>x</summary>\n\n" + "\n\n".join("| a | b |" for _ in range(20000))
    fitted = github.fit_body(body, limit=5000)
    assert len(fitted) <= 5000 and fitted.count("<details") == fitted.count("</details>")
    assert "artifacts" in fitted


def test_the_monitoring_verdict_is_in_the_report_when_monitor_ran():
    from mlctl.stages.report.compose import monitor_section

    monitor = {
        "verdict": "drift",
        "retrain_advised": True,
        "alerts": ["data drift in 1/6 features: x1"],
        "current": {"rows": 400},
        "drift": {
            "features": [
                {"feature": "x1", "test": "ks", "p_value": 1e-5, "psi": 0.19, "drifted": True},
                {"feature": "x2", "test": "ks", "p_value": 0.4, "psi": 0.01, "drifted": False},
            ]
        },
    }
    text = monitor_section(monitor, limit=10)
    assert "**drift**, retraining advised" in text and "400 current rows" in text
    assert "`x1`" in text and "`x2`" not in text and "data drift in 1/6 features" in text


def test_features_that_add_nothing_are_listed_as_candidates_to_drop():
    from mlctl.stages.report.compose import features_section

    features = {
        "metric": "roc_auc",
        "confidence": 0.95,
        "features": [
            {"feature": "x1", "importance": 0.2, "low": 0.15, "high": 0.25, "useless": False},
            {"feature": "count", "importance": 0.001, "low": -0.01, "high": 0.012, "useless": True},
        ],
        "useless": ["count"],
    }
    text = features_section(features)
    assert "**1 candidate(s) to drop**" in text and "| `count` | 0.001 | -0.01 | 0.012 |" in text and "x1" not in text
    assert "none is a candidate" in features_section({**features, "useless": []})


def test_the_ml_test_score_section_lists_what_is_not_automated():
    from mlctl.stages.report.compose import score_section

    score = {
        "score": 5.5,
        "sections": {"Data": 6.0, "Model": 5.5, "Infrastructure": 6.0, "Monitoring": 7.0},
        "tests": [
            {"id": "M6", "title": "Slices", "status": "manual", "evidence": "not gated", "next": "set it"},
            {"id": "M5", "title": "Baseline", "status": "automated", "evidence": "gate", "next": ""},
        ],
    }
    text = score_section(score)
    assert "Score **5.5**" in text and "| Model | 5.5 |" in text
    assert "1 of 2 tests not automated" in text and "| M6 | Slices | manual | not gated | set it |" in text
    assert "M5" not in text
