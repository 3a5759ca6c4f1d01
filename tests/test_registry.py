"""The git-tag model registry (GTO conventions) in real temporary git repositories."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import git, write_params
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.core.errors import EXIT_GATE_REJECTED, EXIT_NOT_FOUND, EXIT_USAGE, ConfigError, GateRejectedError
from mlctl.repo import registry

runner = CliRunner()


def commit_model(root: Path, passed: bool, note: str) -> str:
    (root / "reports").mkdir(exist_ok=True)
    (root / "reports" / "gate.json").write_text(
        json.dumps({"passed": passed, "rules": [{"rule": "x", "passed": passed}]})
    )
    (root / "models").mkdir(exist_ok=True)
    (root / "models" / "model.json").write_text(json.dumps({"note": note}))
    git(root, "add", "-A")
    git(root, "commit", "-qm", note)
    return git(root, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    write_params(tmp_path, {"target": "y", "collect": {"sources": [{"name": "s", "path": "a.csv"}]}})
    return tmp_path


def tag_env(monkeypatch):
    for key, value in {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }.items():
        monkeypatch.setenv(key, value)


def test_register_promote_rollback_story(repo, monkeypatch):
    tag_env(monkeypatch)
    c1 = commit_model(repo, True, "model one")
    v1 = registry.register(repo, "churn")
    assert v1.tag == "churn@v0.1.0" and v1.commit == c1
    registry.promote(repo, "churn", "v0.1.0", "prod")
    c2 = commit_model(repo, True, "model two")
    v2 = registry.register(repo, "churn", bump="patch")
    assert v2.tag == "churn@v0.1.1" and v2.commit == c2
    a = registry.promote(repo, "churn", "latest", "prod")
    assert a.tag == "churn#prod#2" and a.version == "0.1.1"
    assert registry.resolve(repo, "churn@prod").commit == c2
    back = registry.rollback(repo, "churn", "prod")
    assert back.tag == "churn#prod#3" and back.version == "0.1.0"
    assert registry.resolve(repo, "churn@prod").commit == c1
    assert registry.resolve(repo, "churn@v0.1.1").commit == c2
    events = registry.history(repo, "churn")
    assert [e["tag"] for e in events if e["event"] == "assignment"] == ["churn#prod#1", "churn#prod#2", "churn#prod#3"]
    # every action is an annotated tag: a record in git
    assert "Rolling back" in git(repo, "tag", "-n1", "churn#prod#3")


def test_promotion_refused_without_passing_gate(repo, monkeypatch):
    tag_env(monkeypatch)
    commit_model(repo, False, "bad model")
    registry.register(repo, "churn")
    with pytest.raises(GateRejectedError, match="failed the gate"):
        registry.promote(repo, "churn", "v0.1.0", "prod")
    assert registry.current_stages(repo, "churn") == {}


def test_register_same_commit_twice_and_bad_versions(repo, monkeypatch):
    tag_env(monkeypatch)
    commit_model(repo, True, "m")
    registry.register(repo, "churn", version="v1.2.3")
    with pytest.raises(ConfigError, match="already registered"):
        registry.register(repo, "churn")
    commit_model(repo, True, "m2")
    with pytest.raises(ConfigError, match="not above"):
        registry.register(repo, "churn", version="1.0.0")
    with pytest.raises(ConfigError, match="invalid model name"):
        registry.register(repo, "Bad Name")


def test_cli_exit_codes(repo, monkeypatch):
    tag_env(monkeypatch)
    commit_model(repo, False, "bad")
    r = runner.invoke(app, ["registry", "register", "churn", "-C", str(repo)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["registry", "promote", "churn", "v0.1.0", "prod", "-C", str(repo)])
    assert r.exit_code == EXIT_GATE_REJECTED
    r = runner.invoke(app, ["registry", "rollback", "churn", "prod", "-C", str(repo)])
    assert r.exit_code == EXIT_NOT_FOUND
    r = runner.invoke(app, ["registry", "register", "BAD NAME", "-C", str(repo)])
    assert r.exit_code == EXIT_USAGE
    r = runner.invoke(app, ["registry", "show", "churn", "-C", str(repo), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["versions"][0]["version"] == "v0.1.0"
    r = runner.invoke(app, ["registry", "history", "churn", "-C", str(repo), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)[0]["tag"] == "churn@v0.1.0"


def test_register_and_promote_push_their_tags_to_origin(repo, tmp_path, monkeypatch):
    tag_env(monkeypatch)
    commit_model(repo, True, "model one")
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    subprocess.run(["git", "remote", "add", "origin", str(origin)], cwd=repo, check=True)
    r = runner.invoke(app, ["registry", "register", "churn", "--push", "-C", str(repo)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["registry", "promote", "churn", "v0.1.0", "prod", "--push", "-C", str(repo)])
    assert r.exit_code == 0, r.output
    tags = subprocess.run(["git", "ls-remote", "--tags", str(origin)], capture_output=True, text=True).stdout
    assert "refs/tags/churn@v0.1.0" in tags and "refs/tags/churn#prod#1" in tags
