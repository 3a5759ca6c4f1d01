"""The commands continuous training runs: retrain commits only what changed; one pull request per branch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import git, make_frame
from report_helpers import FakeGitHub, two_commit_project
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.reporting.github import write_step_outputs

runner = CliRunner()


def outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_step_outputs_are_appended_only_in_actions(tmp_path):
    assert write_step_outputs({"changed": "true"}, env={}) is None
    out = tmp_path / "out"
    out.write_text("earlier=1\n")
    write_step_outputs({"changed": "false", "branch": "mlctl/retrain"}, env={"GITHUB_OUTPUT": str(out)})
    assert outputs(out) == {"earlier": "1", "changed": "false", "branch": "mlctl/retrain"}
    with pytest.raises(ValueError):
        write_step_outputs({"x": "two\nlines"}, env={"GITHUB_OUTPUT": str(out)})


def test_post_branch_opens_one_pull_request_then_updates_it(tmp_path):
    root = two_commit_project(tmp_path / "p")  # HEAD on `feature`, base main
    with FakeGitHub() as fake:
        env = {"GITHUB_TOKEN": "tok", "GITHUB_REPOSITORY": "o/r", "GITHUB_API_URL": fake.url}  # a schedule: no event
        args = ["report", "--post", "--branch", "feature", "--base", "main", "-C", str(root), "--json"]
        first = runner.invoke(app, args, env=env)
        assert first.exit_code == 0, first.output
        posted = json.loads(first.stdout)["posted"]
        assert posted["pull_request_action"] == "opened" and posted["pull_request"] == fake.number
        assert len(fake.pulls) == 1 and fake.pulls[0]["head"]["ref"] == "feature"
        assert fake.pulls[0]["base"]["ref"] == "main" and "rejected by the gate" in fake.pulls[0]["title"]
        assert len(fake.ours()) == 1
        second = runner.invoke(app, args, env=env)  # the schedule fires again
        assert second.exit_code == 0, second.output
        assert json.loads(second.stdout)["posted"]["pull_request_action"] == "updated"
    assert len(fake.pulls) == 1 and len(fake.ours()) == 1  # never a duplicate pull request or comment
    missing = runner.invoke(app, args, env={"GITHUB_TOKEN": "", "GITHUB_REPOSITORY": "o/r"})
    assert missing.exit_code == 2 and "GITHUB_TOKEN" in missing.output
    alone = runner.invoke(app, ["report", "--branch", "feature", "-C", str(root)])
    assert alone.exit_code == 2 and "--post" in alone.output


@pytest.mark.slow
def test_retrain_commits_only_when_something_changed(tmp_path, monkeypatch):
    from test_pipeline_dvc import dvc, make_repo

    root = make_repo(tmp_path / "p", "classification")
    dvc(root, "repro")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "champion")
    head = git(root, "rev-parse", "HEAD").strip()
    out = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    for key, value in {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
                       "GIT_COMMITTER_EMAIL": "t@x"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    # the monitor's reports may be there, uncommitted: they do not make a commit by themselves
    (root / "reports" / "monitor.json").write_text(json.dumps({"retrain_advised": True}))

    same = runner.invoke(app, ["retrain", "--branch", "mlctl/retrain", "-C", str(root), "--json"])
    assert same.exit_code == 0, same.output
    assert json.loads(same.stdout)["changed"] is False
    assert outputs(out) == {"changed": "false", "branch": "mlctl/retrain", "commit": "", "gate_passed": "true"}
    assert git(root, "rev-parse", "HEAD").strip() == head and git(root, "branch", "--list", "mlctl/retrain") == ""

    new = tmp_path / "new.csv"
    make_frame("classification", n=120, seed=11).to_csv(new, index=False)
    out.unlink()
    fresh = runner.invoke(app, ["retrain", "--data", str(new), "--branch", "mlctl/retrain", "-C", str(root), "--json"])
    assert fresh.exit_code in (0, 5), fresh.output
    result = json.loads(fresh.stdout.split("\n}\n")[0] + "\n}")
    assert result["changed"] is True and result["appended_rows"] == 120
    assert outputs(out)["changed"] == "true" and outputs(out)["commit"] == result["commit"]
    assert git(root, "rev-parse", "--abbrev-ref", "HEAD").strip() == "mlctl/retrain"
    assert git(root, "rev-parse", "HEAD~1").strip() == head  # one commit on top of main
    changed = git(root, "diff", "--name-only", "HEAD~1", "HEAD").split()
    assert "dvc.lock" in changed and "data/sources/data.csv" in changed  # (this repo keeps its source in git)
