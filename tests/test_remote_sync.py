"""`mlctl remote check|push|pull`: the remote from DVC_REMOTE_URL, and failures that name what to set."""

from __future__ import annotations

import time

import pytest
from conftest import git, write_params
from test_remote import dvc, free_port, s3, sha  # noqa: F401  (s3: the moto server fixture)
from typer.testing import CliRunner

from mlctl.cli import app

runner = CliRunner()
pytestmark = pytest.mark.slow


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    dvc(root, "init", "-q")
    write_params(root, {"target": "y", "collect": {"sources": [{"name": "s", "path": "data/a.csv"}]}})
    (root / "data").mkdir()
    (root / "data" / "big.bin").write_bytes(bytes(range(256)) * 512)
    dvc(root, "add", "data/big.bin")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "data")
    return root


def test_push_and_pull_through_the_remote_named_in_the_environment(repo, tmp_path, s3):  # noqa: F811
    env = {"DVC_REMOTE_URL": "s3://models/from-env", "DVC_REMOTE_ENDPOINT": s3, "HOME": str(tmp_path)}
    pushed = runner.invoke(app, ["remote", "push", "-C", str(repo), "--json"], env=env)
    assert pushed.exit_code == 0, pushed.output
    assert '"remote": "ci"' in pushed.stdout and '"from_env": true' in pushed.stdout
    assert "from-env" not in (repo / ".dvc" / "config").read_text()  # .dvc/config.local, never committed
    checked = runner.invoke(app, ["remote", "check", "-C", str(repo)], env=env)
    assert checked.exit_code == 0, checked.output

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    pulled = runner.invoke(app, ["remote", "pull", "-C", str(clone)], env=env)
    assert pulled.exit_code == 0, pulled.output
    assert sha(clone / "data" / "big.bin") == sha(repo / "data" / "big.bin")


def test_missing_credentials_name_the_remote_and_the_secrets(repo, tmp_path):
    env = {"DVC_REMOTE_URL": "s3://models/x", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": None}
    env |= {"AWS_PROFILE": None, "HOME": str(tmp_path)}
    result = runner.invoke(app, ["remote", "pull", "-C", str(repo)], env=env)
    message = result.output.replace("\n", " ")
    assert result.exit_code == 2, result.output
    assert "'ci' (s3://models/x)" in message and "AWS_ACCESS_KEY_ID" in message and "secrets" in message
    assert "Traceback" not in message


def test_an_unreachable_remote_fails_its_step_with_what_to_set(repo, tmp_path):
    env = {"DVC_REMOTE_URL": "s3://models/x", "DVC_REMOTE_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    env |= {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_DEFAULT_REGION": "us-east-1"}
    env |= {"AWS_MAX_ATTEMPTS": "1", "HOME": str(tmp_path)}
    started = time.perf_counter()
    result = runner.invoke(app, ["remote", "push", "-C", str(repo), "--timeout", "120"], env=env)
    message = result.output.replace("\n", " ")
    assert result.exit_code == 6, result.output
    assert "DVC remote 'ci' (s3://models/x)" in message and "DVC_REMOTE_URL" in message
    assert "Traceback" not in message and time.perf_counter() - started < 120


def test_no_remote_at_all(repo, tmp_path):
    (repo / ".dvc" / "config").write_text("")
    result = runner.invoke(app, ["remote", "check", "-C", str(repo)], env={"DVC_REMOTE_URL": None})
    assert result.exit_code == 2 and "DVC_REMOTE_URL" in result.output.replace("\n", " ")
