"""This repository's own CI, executed by the workflow harness from a fresh clone of the committed tree.

The `test` job (lint + the whole suite, which includes this file) is not run here; the `pipeline` job is:
install, params check, collect and validate the embedded data, reproduce, gate, benchmark and the PR report.
"""

from __future__ import annotations

import subprocess

import pytest
from conftest import REPO
from fake_github import FakeGitHub
from workflow_fixtures import virtualenv
from workflow_harness import PythonEnv, Runner

pytestmark = pytest.mark.slow
TOKEN = "ghs_harness_token"


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
