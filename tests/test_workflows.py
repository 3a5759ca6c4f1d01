"""The GitHub workflows: schema-valid offline, pinned, least privilege, and only tested commands."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from test_cli import COMMANDS

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml")) + sorted(
    (REPO / "mlctl" / "templates" / "workflows").glob("*.yml")  # what `mlctl init` writes
)
DVC_COMMANDS = {"repro", "pull", "push", "metrics", "plots", "params", "exp", "status", "checkout", "fetch"}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def run_lines(workflow: dict) -> list[str]:
    lines = []
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            lines += [line.strip() for line in step.get("run", "").splitlines()]
    return lines


def test_the_three_workflows_exist():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "cd.yml", "ct.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_workflow_schema_offline(path):
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).with_name("check-jsonschema"))
    proc = subprocess.run(
        [exe, "--builtin-schema", "vendor.github-workflows", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_actions_are_pinned(path):
    for line in path.read_text().splitlines():
        m = re.search(r"uses:\s*([^\s#]+)", line)
        if m:
            ref = m.group(1).split("@")[-1]
            assert re.fullmatch(r"v\d+\.\d+\.\d+|[0-9a-f]{40}", ref), f"{path.name}: {m.group(1)} is not pinned"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_least_privilege_permissions(path):
    wf = load(path)
    assert wf.get("permissions") == {"contents": "read"}, f"{path.name}: top-level permissions must be read-only"
    for name, job in wf["jobs"].items():
        perms = job.get("permissions", {})
        assert perms != "write-all" and "write-all" not in str(perms), f"{path.name}:{name}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_workflows_call_only_tested_commands(path):
    for line in run_lines(load(path)):
        for m in re.finditer(r"\bmlctl ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", line):
            one, two = m.group(1), f"{m.group(1)} {m.group(2)}" if m.group(2) else None
            assert one in COMMANDS or two in COMMANDS, f"{path.name}: `{m.group(0)}` is not an mlctl command"
        for m in re.finditer(r"\bdvc ([a-z]+)", line):
            assert m.group(1) in DVC_COMMANDS, f"{path.name}: `dvc {m.group(1)}`"


def test_ci_caches_pip_and_dvc():
    text = (REPO / ".github" / "workflows" / "ci.yml").read_text()
    assert "cache: pip" in text and ".dvc/cache" in text


def test_every_job_has_a_timeout():
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            assert "timeout-minutes" in job, f"{path.name}:{name}"
