"""DVC remotes: an S3-compatible remote on a local moto server (127.0.0.1), push, fresh clone, pull."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git, write_params
from typer.testing import CliRunner

from mlctl.cli import app

runner = CliRunner()
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3(monkeypatch):
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    import boto3

    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="models")
    yield endpoint
    server.stop()


def dvc(cwd: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_s3_remote_push_clone_pull(tmp_path, s3):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    dvc(repo, "init", "-q")
    write_params(repo, {"target": "y", "collect": {"sources": [{"name": "s", "path": "data/a.csv"}]}})
    (repo / "data").mkdir()
    (repo / "data" / "big.bin").write_bytes(bytes(range(256)) * 4096)
    dvc(repo, "add", "data/big.bin")
    result = runner.invoke(
        app, ["remote", "add", "store", "s3://models/project", "--default", "--endpoint-url", s3, "-C", str(repo)]
    )
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["remote", "list", "--json", "-C", str(repo)])
    assert '"store"' in listed.output and '"default": true' in listed.output
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    dvc(repo, "push")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert not (clone / "data" / "big.bin").exists()
    dvc(clone, "pull")
    assert sha(clone / "data" / "big.bin") == sha(repo / "data" / "big.bin")
    # the credentials never entered the repository's config
    assert "testing" not in (clone / ".dvc" / "config").read_text()


def test_endpoint_only_for_s3(tmp_path):
    git(tmp_path, "init", "-q")
    dvc(tmp_path, "init", "-q")
    write_params(tmp_path, {"target": "y", "collect": {"sources": [{"name": "s", "path": "a.csv"}]}})
    result = runner.invoke(
        app, ["remote", "add", "x", "/tmp/somewhere", "--endpoint-url", "http://x", "-C", str(tmp_path)]
    )
    assert result.exit_code == 2
