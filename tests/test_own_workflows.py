"""This repository's own CI, CT and CD, executed by the workflow harness from a fresh clone of the committed tree.

CI: the `test` job (lint + the whole suite, which includes this file) is not run here; the `pipeline` job is:
install, params check, collect and validate the embedded data, reproduce, gate, benchmark and the PR report.
CT: a dispatch with drifted, labelled rows retrains, pushes data and model to S3 (moto) and opens one pull request.
CD: a release tag builds the bundle and the image context, smoke-tests a server started from them, promotes in the
registry and publishes the release through the fake GitHub API.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO
from fake_github import FakeGitHub
from workflow_fixtures import S3_KEYS, free_port, virtualenv
from workflow_harness import PythonEnv, Runner

pytestmark = pytest.mark.slow
TOKEN = "ghs_harness_token"
CT, CD = ".github/workflows/ct.yml", ".github/workflows/cd.yml"


def test_this_repository_ci_pipeline_job_passes(tmp_path, python_env):
    # its own virtualenv: `pip install -e .` of this repository must not replace the session's wheel install
    env = tmp_path / "venv"
    virtualenv(env)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(REPO), str(origin)], check=True)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    with FakeGitHub(TOKEN) as github:
        runner = Runner(
            origin,
            tmp_path / "runs",
            PythonEnv(env, python_env.wheels),
            secrets={"GITHUB_TOKEN": TOKEN},
            api_url=github.url,
        )
        pull = github.open_pull("main", title="this repository")
        payload = {"number": pull["number"], "pull_request": {"number": pull["number"], "base": {"ref": "main"}}}
        result = runner.run(
            ".github/workflows/ci.yml",
            event="pull_request",
            ref=f"refs/pull/{pull['number']}/merge",
            sha=sha,
            payload=payload,
            only=["pipeline"],
        )
        assert result.ok, result.log()
        job = result.jobs["pipeline"]
        assert [s.outcome for s in job.steps].count("success") == len(job.steps), result.log()
        (comment,) = github.state.comments_on(pull["number"])
        assert "### Gate" in comment["body"]


def own_origin(tmp_path: Path) -> tuple[Path, str]:
    """A bare clone of this checkout acting as origin, and the commit under test."""
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(REPO), str(origin)], check=True)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    # the commit under test is what origin's main holds (CT's pull request targets main)
    subprocess.run(["git", "update-ref", "refs/heads/main", sha], cwd=origin, check=True)
    return origin, sha


def own_runner(
    tmp_path: Path, python_env, github, origin: Path, endpoint: str, remote: str, **variables: str
) -> Runner:
    env = tmp_path / "venv"
    virtualenv(env)  # `pip install -e .` of this repository must not replace the session's wheel install
    return Runner(
        origin,
        tmp_path / "runs",
        PythonEnv(env, python_env.wheels),
        secrets={"GITHUB_TOKEN": TOKEN, **S3_KEYS},
        variables={"DVC_REMOTE_URL": remote, "DVC_REMOTE_ENDPOINT": endpoint, **variables},
        api_url=github.url,
    )


def drifted_rows(path: Path) -> Path:
    """Labelled rows resampled from the committed source's riskier applicants: drift in most features, within limits."""
    source = pd.read_csv(REPO / "data" / "sources" / "hdma.csv")
    numeric = [c for c in source.columns if pd.api.types.is_numeric_dtype(source[c])]
    flags = [c for c in source.columns if c not in numeric and c != "deny"]
    score = sum((source[c] - source[c].mean()) / source[c].std() for c in numeric)
    score = score + sum(2 * (source[c] == "yes") for c in flags)
    riskier = source[score >= score.quantile(0.6)]
    riskier.sample(n=400, replace=True, random_state=7).to_csv(path, index=False)
    return path


def test_this_repository_ct_retrains_on_drift_pushes_and_opens_one_pull_request(tmp_path, python_env, moto_s3):
    origin, sha = own_origin(tmp_path)
    new = drifted_rows(tmp_path / "new.csv")
    with FakeGitHub(TOKEN) as github:
        runner = own_runner(tmp_path, python_env, github, origin, moto_s3, "s3://models/own")
        inputs = {"current": str(new), "new_data": str(new)}
        result = runner.run(CT, event="workflow_dispatch", ref="refs/heads/main", sha=sha, inputs=inputs)
        assert result.ok, result.log()
        job = result.jobs["monitor-and-retrain"]
        assert job.step("monitor").outputs["code"] == "7", result.log()
        assert job.step("retrain").outputs["changed"] == "true", result.log()
        (pull,) = github.state.pulls
        assert pull["head"]["ref"] == "mlctl/retrain"
        (comment,) = github.state.comments_on(pull["number"])
        assert "### Monitoring" in comment["body"], comment["body"]
        # the schedule monitors MLCTL_PRODUCTION_DATA; production data like the training data: nothing is opened
        same = tmp_path / "same.csv"
        pd.read_csv(REPO / "data" / "sources" / "hdma.csv").sample(n=400, random_state=8).to_csv(same, index=False)
        runner.variables["MLCTL_PRODUCTION_DATA"] = str(same)
        quiet = runner.run(CT, event="schedule", ref="refs/heads/main", sha=sha)
        assert quiet.ok, quiet.log()
        job = quiet.jobs["monitor-and-retrain"]
        assert job.step("monitor").outputs["code"] == "0", quiet.log()
        assert job.step("retrain").outcome == "skipped" and job.step("Push the candidate branch").outcome == "skipped"
        assert len(github.state.pulls) == 1
    # the branch has a new dvc.lock and a source with the appended rows; its outputs are on the remote
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "-b", "mlctl/retrain", str(origin), str(clone)], check=True)
    diff = subprocess.run(
        ["git", "diff", "--name-only", sha, "HEAD"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "dvc.lock" in diff and "data/sources/hdma.csv" in diff, diff
    env = {**S3_KEYS, "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "DVC_NO_ANALYTICS": "1"}
    for args in (
        ["remote", "add", "--local", "--default", "ci", "s3://models/own"],
        ["remote", "modify", "--local", "ci", "endpointurl", moto_s3],
        ["pull"],
    ):
        proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=clone, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (clone / "models" / "model.onnx").exists()


def test_this_repository_cd_builds_smokes_promotes_and_publishes(tmp_path, python_env, moto_s3):
    origin, sha = own_origin(tmp_path)
    with FakeGitHub(TOKEN) as github:
        runner = own_runner(
            tmp_path, python_env, github, origin, moto_s3, "s3://models/own-cd", MLCTL_SMOKE_PORT=str(free_port())
        )
        assert not runner.run(CD, event="push", ref="refs/tags/v1.0.0", sha=sha).triggered  # not a registry tag
        result = runner.run(CD, event="push", ref="refs/heads/main", sha=sha)
        assert result.ok, result.log()
        image = result.jobs["image"]
        assert image.step("docker/login-action@v3.4.0").outcome == "skipped"  # PUSH_IMAGE unset: no GHCR push
        assert "complete" in image.step("docker/build-push-action@v6.18.0").log, result.log()
        smoke = result.jobs["smoke"].step("Smoke test (readiness, the built model, one real prediction)")
        assert "ready after" in smoke.log, smoke.log
        version = result.jobs["build"].step("meta").outputs["version"]
        tags = subprocess.run(["git", "tag", "-l"], cwd=origin, capture_output=True, text=True).stdout.split()
        assert any(t.startswith("model@v") for t in tags) and any(t.startswith("model#prod#") for t in tags), tags
        (release,) = github.state.releases
        assert release["tag_name"] == f"model-{version}"
        assets = {a["name"]: a["data"] for a in github.state.assets if a["release"] == release["id"]}
    assert {"model.onnx", "model.json"} <= set(assets), sorted(assets)
    archives = [n for n in assets if n.endswith(".tar.gz")]
    assert len(archives) == 1 and f"{archives[0]}.sha256" in assets, sorted(assets)
    digest = assets[f"{archives[0]}.sha256"].decode().split()[0]
    assert digest == hashlib.sha256(assets[archives[0]]).hexdigest()
