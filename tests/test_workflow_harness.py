"""The workflow harness itself: needs order, if:, env levels, outputs, runner files, checkout and artifacts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import git
from workflow_actions import copy_sources
from workflow_expr import Evaluator, condition, substitute
from workflow_harness import PythonEnv, Runner, parse_outputs, triggered

WORKFLOW = """
name: t
on:
  push:
    branches: [main]
    tags: ["v*"]
env:
  LEVEL: workflow
  WHO: ${{ vars.WHO }}
jobs:
  first:
    runs-on: ubuntu-latest
    outputs:
      answer: ${{ steps.ask.outputs.answer }}
    steps:
      - uses: actions/checkout@v4.2.2
      - id: ask
        env:
          LEVEL: step
        run: |
          test "$LEVEL" = step && test "$WHO" = harness && test -f data/a.txt
          echo "answer=42" >> "$GITHUB_OUTPUT"
          echo "CARRIED=yes" >> "$GITHUB_ENV"
          printf 'note<<EOF\\nline 1\\nline 2\\nEOF\\n' >> "$GITHUB_OUTPUT"
      - name: sees the env file and the output
        working-directory: data
        run: test "$CARRIED" = yes && test -f a.txt && test "${{ steps.ask.outputs.answer }}" = 42
      - name: tag only
        if: github.ref_type == 'tag'
        run: exit 1
      - uses: actions/upload-artifact@v4.6.2
        with:
          name: files
          path: |
            data/a.txt
  second:
    needs: first
    runs-on: ubuntu-latest
    steps:
      - uses: actions/download-artifact@v4.3.0
        with:
          name: files
          path: got
      - run: test -f got/a.txt && test "${{ needs.first.outputs.answer }}" = 42
      - name: fails
        run: exit 3
      - name: skipped after a failure
        run: echo never
      - name: runs on failure
        if: failure()
        run: echo "${{ secrets.MISSING }}" | grep -qv x
  third:
    needs: second
    runs-on: ubuntu-latest
    steps:
      - run: echo never
  unknown:
    runs-on: ubuntu-latest
    steps:
      - uses: someone/something@v1.0.0
"""


@pytest.fixture
def origin(tmp_path) -> tuple[Path, str]:
    work = tmp_path / "work"
    (work / ".github" / "workflows").mkdir(parents=True)
    (work / "data").mkdir()
    (work / "data" / "a.txt").write_text("a")
    (work / ".github" / "workflows" / "t.yml").write_text(WORKFLOW)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "one")
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return bare, git(work, "rev-parse", "HEAD").strip()


def test_jobs_steps_outputs_and_conditions(tmp_path, origin):
    bare, sha = origin
    runner = Runner(bare, tmp_path / "runs", PythonEnv(tmp_path, tmp_path), variables={"WHO": "harness"})
    result = runner.run(".github/workflows/t.yml", event="push", ref="refs/heads/main", sha=sha)
    assert result.triggered
    first, second = result.jobs["first"], result.jobs["second"]
    assert first.result == "success", result.log()
    assert first.outputs == {"answer": "42"}
    assert first.step("ask").outputs["note"] == "line 1\nline 2"
    assert first.step("tag only").outcome == "skipped"
    assert second.result == "failure"
    assert [s.outcome for s in second.steps] == ["success", "success", "failure", "skipped", "success"]
    assert result.jobs["third"].result == "skipped"
    assert result.jobs["unknown"].result == "failure"
    assert "unknown action someone/something" in result.jobs["unknown"].steps[0].log
    assert not result.ok


def test_triggers():
    wf = {True: {"push": {"branches": ["main"], "tags": ["v*"]}, "pull_request": None}}
    assert triggered(wf, "push", "refs/heads/main")
    assert not triggered(wf, "push", "refs/heads/dev")
    assert triggered(wf, "push", "refs/tags/v1.0.0")
    assert not triggered(wf, "push", "refs/tags/x1")
    assert triggered(wf, "pull_request", "refs/pull/3/merge")
    assert not triggered(wf, "schedule", "refs/heads/main")
    assert not triggered({True: {"push": {"tags": ["v*"]}}}, "push", "refs/heads/main")


def test_expressions():
    ev = Evaluator(
        {"github": {"event_name": "pull_request", "ref": "refs/tags/v1"}, "steps": {"m": {"outputs": {"code": "7"}}}},
        {"success": lambda: True, "failure": lambda: False, "always": lambda: True},
    )
    assert condition("github.event_name == 'pull_request'", ev)
    assert condition("steps.m.outputs.code == '7' && startsWith(github.ref, 'refs/tags/v')", ev)
    assert not condition("steps.m.outputs.code != 7", ev)
    assert condition("always()", ev) and not condition("failure()", ev)
    assert substitute("a ${{ steps.x.outputs.y || 'd' }} b", ev) == "a d b"
    assert substitute("${{ github['event_name'] }}", ev) == "pull_request"
    with pytest.raises(ValueError):
        ev.evaluate("nosuch()")


def test_runner_files_and_dockerfile_sources(tmp_path):
    out = tmp_path / "out"
    out.write_text("a=1\nb<<X\nx\ny\nX\nc=3=4\n")
    assert parse_outputs(out) == {"a": "1", "b": "x\ny", "c": "3=4"}
    text = "FROM x\nCOPY --chown=a:a models/m.onnx \\\n  models/m.json ./models/\nCOPY --from=b /x /y\nADD a b\n"
    assert copy_sources(text) == [["models/m.onnx", "models/m.json"], ["a"]]
