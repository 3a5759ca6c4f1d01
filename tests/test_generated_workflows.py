"""The workflows `mlctl init` writes, executed by the harness on projects made from generated data.

Each project is made once per module (init, a first local run, `dvc push` to S3 on moto's server, a push to a
bare repository acting as origin); the scenarios then push commits, open pull requests on the fake GitHub API
and run the project's own workflows as GitHub would.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import GIT_IDENTITY, REPO, make_frame
from fake_github import FakeGitHub
from workflow_fixtures import S3_KEYS, free_port
from workflow_harness import Runner

# one worker builds the shared projects (with `--dist loadgroup`; plain `-n 2` may build them on both)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("generated_workflows")]
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
TOKEN = "ghs_harness_token"
MLCTL = (sys.executable, "-m", "mlctl")
SPEC = ("--mlctl-spec", f"mlctl-toolkit=={VERSION}")
CI, CD, CT = ".github/workflows/ci.yml", ".github/workflows/cd.yml", ".github/workflows/ct.yml"


def user_env(endpoint: str) -> dict[str, str]:
    """What the person at their machine has: this checkout's mlctl, a git identity, credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "AWS_"))}
    return {**env, "PYTHONPATH": str(REPO), **GIT_IDENTITY, **S3_KEYS, "DVC_NO_ANALYTICS": "1"}


@dataclass
class Project:
    root: Path  # the person's working copy
    origin: Path  # the bare repository GitHub stands for
    env: dict[str, str]
    remote_url: str

    def sh(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(args, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=600)
        if check:
            assert proc.returncode == 0, f"{args}: {proc.stdout}{proc.stderr}"
        return proc

    def mlctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.sh(sys.executable, "-m", "mlctl", *args, check=check)

    def dvc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.sh(sys.executable, "-m", "dvc", *args, check=check)

    def head(self) -> str:
        return self.sh("git", "rev-parse", "HEAD").stdout.strip()

    def commit_and_push(self, message: str, branch: str) -> str:
        self.sh("git", "add", "-A")
        self.sh("git", "commit", "-qm", message)
        self.sh("git", "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        return self.head()


def make_project(
    base: Path, endpoint: str, name: str, data: Path | str, bucket_prefix: str, query: str = "", database: str = ""
) -> Project:
    env = user_env(endpoint)
    if database:
        env["DATABASE_URL"] = database
    proc = subprocess.run(
        [*MLCTL, "init", str(base / name), "--data", str(data), "--target", "target", "--yes", "--quick", *SPEC]
        + (["--query", query] if query else []),
        cwd=base,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    origin = base / f"{name}.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    project = Project(base / name, origin, env, f"s3://models/{bucket_prefix}")
    project.sh("git", "remote", "add", "origin", str(origin))
    project.dvc("remote", "add", "--local", "--default", "storage", project.remote_url)
    project.dvc("remote", "modify", "--local", "storage", "endpointurl", endpoint)
    return project


def first_run(project: Project) -> str:
    """The person's first `mlctl run`, `dvc push` and `git push` (what the project's README says to do)."""
    project.mlctl("run")
    project.dvc("push")
    return project.commit_and_push("first run of the pipeline", "main")


@pytest.fixture(scope="module")
def github():
    with FakeGitHub(TOKEN) as gh:
        yield gh


@pytest.fixture(scope="module")
def csv_project(tmp_path_factory, moto_s3) -> Project:
    base = tmp_path_factory.mktemp("csvproject")
    make_frame(n=240, seed=3).to_csv(base / "customers.csv", index=False)
    project = make_project(base, moto_s3, "churn", base / "customers.csv", "churn")
    first_run(project)
    return project


def runner_for(project: Project, tmp: Path, python_env, github, endpoint: str, **overrides) -> Runner:
    variables = {"DVC_REMOTE_URL": project.remote_url, "DVC_REMOTE_ENDPOINT": endpoint}
    return Runner(
        project.origin,
        tmp,
        python_env,
        secrets=overrides.get("secrets", {"GITHUB_TOKEN": TOKEN, **S3_KEYS}),
        variables=overrides.get("variables", variables),
        api_url=github.url,
    )


def pull_request_event(pull: dict, head_sha: str) -> dict:
    return {
        "number": pull["number"],
        "pull_request": {
            "number": pull["number"],
            "head": {"ref": pull["head"]["ref"], "sha": head_sha},
            "base": {"ref": pull["base"]["ref"]},
        },
    }


def test_a_push_to_main_is_green(csv_project, tmp_path, python_env, github, moto_s3):
    runner = runner_for(csv_project, tmp_path, python_env, github, moto_s3)
    result = runner.run(CI, event="push", ref="refs/heads/main", sha=csv_project.head())
    assert result.ok, result.log()
    assert result.jobs["pipeline"].step("Micro-benchmark the exported model").outcome == "success"
    assert (
        result.jobs["pipeline"].step("Report to the pull request (also when the gate or the pipeline failed)").outcome
        == "skipped"
    )
    assert (result.artifacts / "reports" / "reports" / "gate.json").exists()
    assert not github.state.comments


def set_param(project: Project, path: list[str], value) -> None:
    params = project.root / "params.yaml"
    data = yaml.safe_load(params.read_text())
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    params.write_text(yaml.safe_dump(data, sort_keys=False))


def open_pull_request(project: Project, github, branch: str, change) -> tuple[dict, str]:
    """A person's branch with one change, pushed and opened as a pull request against main."""
    project.sh("git", "checkout", "-q", "-b", branch, "main")
    try:
        change()
        sha = project.commit_and_push(f"change on {branch}", branch)
    finally:
        project.sh("git", "checkout", "-q", "main")
    return github.open_pull(branch, title=branch), sha


REPORT = "Report to the pull request (also when the gate or the pipeline failed)"


def test_b_pull_request_changing_a_param_is_green_with_one_comment(csv_project, tmp_path, python_env, github, moto_s3):
    pull, sha = open_pull_request(
        csv_project,
        github,
        "smaller-c",
        lambda: set_param(csv_project, ["train", "spaces", "logistic_regression", "C"], [0.05]),
    )
    result = run_ci_on_pull(runner_for(csv_project, tmp_path, python_env, github, moto_s3), pull, sha)
    assert result.ok, result.log()
    comments = github.state.comments_on(pull["number"])
    assert len(comments) == 1, comments
    body = comments[0]["body"]
    assert "roc_auc" in body and "passed" in body.lower(), body
    assert "0.05" in body  # the changed param


def run_ci_on_pull(runner, pull: dict, sha: str):
    """CI as GitHub runs it for a pull request: the pull_request event on the PR's merge ref."""
    return runner.run(
        CI,
        event="pull_request",
        ref=f"refs/pull/{pull['number']}/merge",
        sha=sha,
        payload=pull_request_event(pull, sha),
    )


def test_c_pull_request_the_gate_rejects_is_red_with_the_comment(csv_project, tmp_path, python_env, github, moto_s3):
    pull, sha = open_pull_request(
        csv_project,
        github,
        "strict-gate",
        lambda: set_param(csv_project, ["gate", "thresholds", "roc_auc"], {"min": 0.9999}),
    )
    result = run_ci_on_pull(runner_for(csv_project, tmp_path, python_env, github, moto_s3), pull, sha)
    assert not result.ok
    assert result.jobs["pipeline"].result == "failure"
    assert result.jobs["pipeline"].step(REPORT).outcome == "success", result.log()
    comments = github.state.comments_on(pull["number"])
    assert len(comments) == 1, comments
    body = comments[0]["body"]
    assert "threshold" in body and "0.9999" in body, body


def test_d_release_tag_builds_promotes_smokes_and_publishes(csv_project, tmp_path, python_env, github, moto_s3):
    sha = csv_project.head()
    csv_project.sh("git", "tag", "v1.0.0", sha)
    csv_project.sh("git", "push", "-q", "origin", "v1.0.0")
    runner = runner_for(csv_project, tmp_path, python_env, github, moto_s3)
    runner.variables["MLCTL_SMOKE_PORT"] = str(free_port())
    assert not runner.run(CD, event="push", ref="refs/heads/main", sha=sha).triggered
    result = runner.run(CD, event="push", ref="refs/tags/v1.0.0", sha=sha)
    assert result.ok, result.log()
    assert "complete" in result.jobs["image"].step("docker/build-push-action@v6.18.0").log
    assert (
        "ready after" in result.jobs["smoke"].step("Smoke test (readiness, the built model, one real prediction)").log
    )
    tags = csv_project.sh("git", "ls-remote", "--tags", str(csv_project.origin)).stdout
    assert "refs/tags/model@v1.0.0" in tags and "refs/tags/model#prod#" in tags, tags
    (release,) = [r for r in github.state.releases if r["tag_name"] == "v1.0.0"]
    assets = {a["name"]: a["data"] for a in github.state.assets if a["release"] == release["id"]}
    archives = [n for n in assets if n.endswith(".tar.gz")]
    assert len(archives) == 1 and f"{archives[0]}.sha256" in assets, sorted(assets)
    digest = assets[f"{archives[0]}.sha256"].decode().split()[0]
    assert digest == hashlib.sha256(assets[archives[0]]).hexdigest()


def test_d2_a_later_release_is_proven_in_staging_shadow_and_promoted_only_if_the_replay_gate_passes(
    csv_project, tmp_path, python_env, github, moto_s3
):
    """After v1.0.0 is in prod, v1.1.0 is served in shadow beside it, replayed and promoted; a breach stops v1.2.0."""
    if "refs/tags/model#prod#" not in csv_project.sh("git", "ls-remote", "--tags", str(csv_project.origin)).stdout:
        test_d_release_tag_builds_promotes_smokes_and_publishes(
            csv_project, tmp_path / "d", python_env, github, moto_s3
        )
    # a new commit (a commit is registered once): the same pipeline outputs, so the replay finds no disagreement
    readme = csv_project.root / "README.md"
    readme.write_text(readme.read_text() + "\nRelease 1.1.0.\n")
    sha = csv_project.commit_and_push("README: release 1.1.0", "main")
    csv_project.sh("git", "tag", "v1.1.0", sha)
    csv_project.sh("git", "push", "-q", "origin", "v1.1.0")
    runner = runner_for(csv_project, tmp_path, python_env, github, moto_s3)
    runner.variables["MLCTL_SMOKE_PORT"] = str(free_port())
    runner.variables["MLCTL_STAGING_PORT"] = str(free_port())
    result = runner.run(CD, event="push", ref="refs/tags/v1.1.0", sha=sha)
    assert result.ok, result.log()
    staging = result.jobs["staging"]
    assert "champion: model@prod" in staging.step("The champion in production").log
    assert "requests sent to staging" in staging.step("Staging traffic (the test split, one request a row)").log
    replay = staging.step("Replay gate (the candidate against the champion's answers on staging's traffic)")
    assert replay.outcome == "success" and "replay within limits" in replay.log, replay.log
    tags = csv_project.sh("git", "ls-remote", "--tags", str(csv_project.origin)).stdout
    assert "refs/tags/model@v1.1.0" in tags

    # a limit the candidate cannot meet: the replay gate fails and nothing is registered or promoted
    set_param(csv_project, ["gate", "replay"], {"max_new_rejects": 0, "max_latency_ratio": 0.0001})
    failing = csv_project.commit_and_push("gate.replay: an impossible latency ratio", "main")
    csv_project.sh("git", "tag", "v1.2.0", failing)
    csv_project.sh("git", "push", "-q", "origin", "v1.2.0")
    result = runner.run(CD, event="push", ref="refs/tags/v1.2.0", sha=failing)
    assert not result.ok
    replay = result.jobs["staging"].step(
        "Replay gate (the candidate against the champion's answers on staging's traffic)"
    )
    assert replay.outcome == "failure" and "latency_ratio" in replay.log, replay.log
    assert result.jobs["release"].result == "skipped"
    tags = csv_project.sh("git", "ls-remote", "--tags", str(csv_project.origin)).stdout
    assert "refs/tags/model@v1.2.0" not in tags
    csv_project.sh("git", "revert", "--no-edit", "HEAD")
    csv_project.sh("git", "push", "-q", "origin", "HEAD:refs/heads/main")


def add_rows(db: Path, n: int, seed: int, shift: float = 0.0) -> None:
    frame = make_frame(n=n, seed=seed).drop(columns=["signup"])  # SQLite keeps dates as text
    frame["x1"] += shift
    with sqlite3.connect(db) as conn:
        frame.to_sql("customers", conn, if_exists="append", index=False)


@pytest.fixture(scope="module")
def sql_project(tmp_path_factory, moto_s3) -> tuple[Project, Path]:
    """A project made by `mlctl init` from a SQLite table (the URL from ${DATABASE_URL}, a secret in CI)."""
    base = tmp_path_factory.mktemp("sqlproject")
    db = base / "warehouse.sqlite"
    add_rows(db, 240, seed=5)
    project = make_project(
        base, moto_s3, "loans", "${DATABASE_URL}", "loans", query="SELECT * FROM customers", database=f"sqlite:///{db}"
    )
    # ~80 test rows: the paired interval against the champion is wide; this team accepts a candidate that
    # may be up to 0.1 worse (the scenario is about CT's mechanics; the champion rule has its own tests)
    set_param(project, ["gate", "champion", "tolerance"], 0.1)
    first_run(project)
    return project, db


def test_e_ct_retrains_on_new_rows_once_and_then_opens_nothing(sql_project, tmp_path, python_env, github, moto_s3):
    project, db = sql_project
    runner = runner_for(project, tmp_path, python_env, github, moto_s3)
    runner.secrets["DATABASE_URL"] = f"sqlite:///{db}"
    before = len(github.state.pulls)
    add_rows(db, 160, seed=11, shift=1.0)  # new rows in the table: x1 drifted, still within validation's limits
    result = runner.run(CT, event="schedule", ref="refs/heads/main", sha=project.head())
    assert result.ok, result.log()
    assert result.jobs["monitor-and-retrain"].step("monitor").outputs["code"] == "7"
    new = github.state.pulls[before:]
    assert len(new) == 1 and new[0]["head"]["ref"] == "mlctl/retrain", new
    (comment,) = github.state.comments_on(new[0]["number"])
    assert "### Monitoring" in comment["body"] and "`x1`" in comment["body"], comment["body"]  # the drifted feature
    # the branch has a new dvc.lock, and a fresh clone of it gets its data and model from the remote
    clone = tmp_path / "clone"
    project.sh("git", "clone", "-q", "-b", "mlctl/retrain", str(project.origin), str(clone))
    diff = project.sh("git", "-C", str(clone), "diff", "--name-only", "origin/main", "HEAD").stdout.split()
    assert "dvc.lock" in diff, diff
    pull = subprocess.run(
        [sys.executable, "-m", "dvc", "pull"], cwd=clone, env=project.env, capture_output=True, text=True
    )
    assert pull.returncode != 0  # the clone has no remote configured yet: the person adds the one CI uses
    clone_project = Project(clone, project.origin, project.env, project.remote_url)
    clone_project.dvc("remote", "add", "--local", "--default", "storage", project.remote_url)
    clone_project.dvc("remote", "modify", "--local", "storage", "endpointurl", moto_s3)
    clone_project.dvc("pull")
    raw = pd.read_parquet(clone / "data" / "raw" / "data.parquet")
    assert len(raw) == 400  # 240 + 160 new rows
    assert (clone / "models" / "model.onnx").exists()

    # the schedule fires again before anyone merged, with more new rows: the same pull request is updated
    first_head = project.sh("git", "ls-remote", str(project.origin), "refs/heads/mlctl/retrain").stdout.split()[0]
    add_rows(db, 40, seed=12, shift=1.0)
    second = runner.run(CT, event="schedule", ref="refs/heads/main", sha=project.head())
    assert second.ok, second.log()
    assert len(github.state.pulls) == before + 1
    (comment,) = github.state.comments_on(new[0]["number"])  # updated in place, not a second comment
    second_head = project.sh("git", "ls-remote", str(project.origin), "refs/heads/mlctl/retrain").stdout.split()[0]
    assert second_head != first_head
    # the candidate is merged; the next scheduled run finds nothing new
    project.sh("git", "fetch", "-q", "origin", "mlctl/retrain")
    project.sh("git", "merge", "-q", "--ff-only", "FETCH_HEAD")
    project.sh("git", "push", "-q", "origin", "HEAD:refs/heads/main")
    new[0]["state"] = "closed"
    again = runner.run(CT, event="schedule", ref="refs/heads/main", sha=project.head())
    assert again.ok, again.log()
    assert len(github.state.pulls) == before + 1  # nothing new: nothing opened
    assert again.jobs["monitor-and-retrain"].step("Push the candidate branch").outcome == "skipped"


FETCH = "Fetch data and models from the DVC remote"


@pytest.mark.parametrize(
    ("secrets", "variables", "names"),
    [
        pytest.param({"GITHUB_TOKEN": TOKEN}, None, ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"], id="no-secrets"),
        pytest.param(None, {}, ["DVC_REMOTE_URL"], id="no-remote-variable"),
        pytest.param(None, "unreachable", ["DVC_REMOTE_ENDPOINT", "s3://models/churn"], id="unreachable"),
    ],
)
def test_remote_problems_fail_the_fetch_step_naming_what_to_set(
    csv_project, tmp_path, python_env, github, moto_s3, secrets, variables, names
):
    if variables == "unreachable":
        variables = {"DVC_REMOTE_URL": csv_project.remote_url, "DVC_REMOTE_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    overrides = {k: v for k, v in (("secrets", secrets), ("variables", variables)) if v is not None}
    runner = runner_for(csv_project, tmp_path, python_env, github, moto_s3, **overrides)
    result = runner.run(CI, event="push", ref="refs/heads/main", sha=csv_project.head(), only=["pipeline"])
    job = result.jobs["pipeline"]
    assert job.result == "failure"
    step = job.step(FETCH)
    assert step.outcome == "failure", result.log()
    assert all(name in step.log for name in names), step.log
    assert "Traceback" not in step.log, step.log
    assert job.step("Reproduce the pipeline").outcome == "skipped"


def test_a_sql_source_that_is_down_fails_ct_naming_the_source(sql_project, tmp_path, python_env, github, moto_s3):
    project, _ = sql_project
    runner = runner_for(project, tmp_path, python_env, github, moto_s3)
    runner.secrets["DATABASE_URL"] = f"sqlite:///{tmp_path}/gone/warehouse.sqlite"
    before = len(github.state.pulls)
    result = runner.run(CT, event="schedule", ref="refs/heads/main", sha=project.head())
    step = result.jobs["monitor-and-retrain"].step("monitor")
    assert step.outcome == "failure", result.log()
    assert "source 'data'" in step.log and "gone/warehouse.sqlite" in step.log, step.log
    assert "Traceback" not in step.log, step.log
    assert len(github.state.pulls) == before
