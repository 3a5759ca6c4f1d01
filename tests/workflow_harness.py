"""Executes a GitHub Actions workflow locally, step by step, as a runner would (a test tool, not a product feature).

Jobs run in `needs:` order, each in a fresh clone of the pushed commit from a local bare repository acting as
``origin``. `run:` steps run with bash, with `env:` at workflow, job and step level, `working-directory`,
`if:`, ``${{ }}`` substitution and the runner's files ($GITHUB_OUTPUT, $GITHUB_ENV, $GITHUB_PATH,
$GITHUB_STEP_SUMMARY). `uses:` steps are stood in for by what they do (tests/workflow_actions.py); an action the harness
does not know fails the step loudly. A pull request's run checks out the head commit (GitHub: the merge
commit with the base), and `docker build` checks the Dockerfile and its build context without building.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from workflow_actions import ACTIONS
from workflow_expr import Evaluator, condition, substitute

BASE_BIN = str(Path(sys.base_prefix) / "bin")  # the runner's tools (dvc, ruff, hadolint...) beside its Python


@dataclass
class PythonEnv:
    """What actions/setup-python stands for: one virtualenv, and the folder the step's pip installs from."""

    venv: Path
    wheels: Path


@dataclass
class StepResult:
    name: str
    outcome: str  # success, failure, skipped
    log: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    id: str = ""


@dataclass
class JobResult:
    name: str
    result: str  # success, failure, skipped
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if name in (s.name, s.id))


@dataclass
class RunResult:
    triggered: bool
    jobs: dict[str, JobResult] = field(default_factory=dict)
    artifacts: Path | None = None

    @property
    def ok(self) -> bool:
        return self.triggered and all(j.result in ("success", "skipped") for j in self.jobs.values())

    def log(self) -> str:
        lines = []
        for job in self.jobs.values():
            lines.append(f"## job {job.name}: {job.result}")
            for s in job.steps:
                lines.append(f"### {s.name}: {s.outcome}\n{s.log[-4000:]}")
        return "\n".join(lines)


def parse_outputs(path: Path) -> dict[str, str]:
    """The `name=value` and `name<<DELIM` lines of a $GITHUB_OUTPUT / $GITHUB_ENV file."""
    out: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delim = line.split("<<", 1)
            end = lines.index(delim, i + 1)
            out[key] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        if "=" in line:
            key, value = line.split("=", 1)
            out[key] = value
        i += 1
    return out


def _glob_match(value: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def triggered(workflow: dict, event: str, ref: str) -> bool:
    """Whether `on:` starts this workflow for ``event`` on ``ref`` (branch/tag filters, glob patterns)."""
    on = workflow.get(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    if isinstance(on, str):
        on = {on: None}
    elif isinstance(on, list):
        on = dict.fromkeys(on)
    if event not in on:
        return False
    spec = on[event] or {}
    if event not in ("push", "pull_request"):
        return True
    name = ref.split("/", 2)[2] if ref.count("/") >= 2 else ref
    is_tag = ref.startswith("refs/tags/")
    branches, tags = spec.get("branches"), spec.get("tags")
    if is_tag:
        return tags is not None and _glob_match(name, tags) if (branches or tags) else True
    if branches is None and tags is not None:
        return False
    return branches is None or _glob_match(name, branches)


class Runner:
    """Runs workflows of the repository whose origin is the bare repository ``origin``."""

    def __init__(
        self,
        origin: Path,
        work: Path,
        python: PythonEnv,
        *,
        repository: str = "acme/project",
        secrets: dict[str, str] | None = None,
        variables: dict[str, str] | None = None,
        api_url: str = "http://127.0.0.1:9",
        timeout: float = 900,
    ):
        self.origin, self.work, self.python = origin, work, python
        self.repository = repository
        self.secrets = {"GITHUB_TOKEN": "ghs_harness_token", **(secrets or {})}
        self.variables = dict(variables or {})
        self.api_url = api_url
        self.timeout = timeout
        self.runs = 0

    # -- the whole workflow -------------------------------------------------------------------------
    def run(
        self,
        workflow_path: str,
        *,
        event: str,
        ref: str,
        sha: str,
        payload: dict | None = None,
        inputs: dict | None = None,
        only: list[str] | None = None,
    ) -> RunResult:
        """Run the workflow as GitHub would for this event (``only``: just these jobs, the others skipped)."""
        self.runs += 1
        run_dir = self.work / f"run{self.runs}"
        run_dir.mkdir(parents=True)
        text = subprocess.run(
            ["git", "show", f"{sha}:{workflow_path}"], cwd=self.origin, capture_output=True, text=True, check=True
        ).stdout
        workflow = yaml.safe_load(text)
        if not triggered(workflow, event, ref):
            return RunResult(triggered=False)
        event_path = run_dir / "event.json"
        event_path.write_text(json.dumps(payload or {}))
        github = self._github(event, ref, sha, payload or {}, event_path)
        result = RunResult(triggered=True, artifacts=run_dir / "artifacts")
        result.artifacts.mkdir()
        for name in self._order(workflow["jobs"]):
            job = workflow["jobs"][name]
            if only is not None and name not in only:
                result.jobs[name] = JobResult(name, "skipped")
                continue
            result.jobs[name] = self._job(name, job, workflow, github, inputs or {}, result, run_dir)
        return result

    def _github(self, event: str, ref: str, sha: str, payload: dict, event_path: Path) -> dict[str, Any]:
        ref_type = "tag" if ref.startswith("refs/tags/") else "branch"
        pr = payload.get("pull_request") or {}
        return {
            "event_name": event,
            "event": payload,
            "event_path": str(event_path),
            "ref": ref,
            "ref_name": ref.split("/", 2)[2] if ref.count("/") >= 2 else ref,
            "ref_type": ref_type,
            "sha": sha,
            "repository": self.repository,
            "repository_owner": self.repository.split("/")[0],
            "run_id": str(1000 + self.runs),
            "run_number": str(self.runs),
            "run_attempt": "1",
            "actor": "harness",
            "workflow": "",
            "server_url": "https://github.com",
            "api_url": self.api_url,
            "base_ref": (pr.get("base") or {}).get("ref", ""),
            "head_ref": (pr.get("head") or {}).get("ref", ""),
            "token": self.secrets["GITHUB_TOKEN"],
        }

    @staticmethod
    def _order(jobs: dict) -> list[str]:
        done: list[str] = []
        while len(done) < len(jobs):
            ready = [n for n, j in jobs.items() if n not in done and set(_needs(j)) <= set(done)]
            if not ready:
                raise ValueError(f"cyclic or unknown needs: {sorted(set(jobs) - set(done))}")
            done += ready
        return done

    # -- one job ------------------------------------------------------------------------------------
    def _job(self, name: str, job: dict, workflow: dict, github: dict, inputs: dict, run: RunResult, run_dir: Path):
        for key in ("strategy", "services", "container", "uses"):
            if key in job:
                raise NotImplementedError(f"job {name}: the harness does not support `{key}:`")
        needs = {n: {"result": run.jobs[n].result, "outputs": run.jobs[n].outputs} for n in _needs(job)}
        jdir = run_dir / name
        (jdir / "temp").mkdir(parents=True)
        (jdir / "home").mkdir()
        workspace = jdir / "workspace"
        workspace.mkdir()
        state = {
            "failed": False,
            "needs": needs,
            "steps": {},
            "env": {},
            "path": [],
            "jdir": jdir,
            "workspace": workspace,
            "run_dir": run_dir,
            "artifacts": run.artifacts,
            "groups": [],
        }
        contexts = self._contexts(github, inputs, state, {})
        all_ok = all(n["result"] == "success" for n in needs.values())
        functions = {
            "success": lambda: all_ok,
            "failure": lambda: any(n["result"] == "failure" for n in needs.values()),
            "always": lambda: True,
            "cancelled": lambda: False,
        }
        result = JobResult(name, "skipped")
        if not condition(job.get("if"), Evaluator(contexts, functions)):
            return result
        result.result = "success"
        for index, step in enumerate(job.get("steps", [])):
            outcome = self._step(index, step, job, workflow, github, inputs, state)
            result.steps.append(outcome)
            if outcome.outcome == "failure" and not step.get("continue-on-error"):
                state["failed"] = True
                result.result = "failure"
        for group in state["groups"]:
            _kill_group(group)
        evaluator = Evaluator(self._contexts(github, inputs, state, {}), functions)
        result.outputs = {k: substitute(str(v), evaluator) for k, v in (job.get("outputs") or {}).items()}
        return result

    def _contexts(self, github: dict, inputs: dict, state: dict, env: dict) -> dict[str, Any]:
        return {
            "github": {**github, "workspace": str(state["workspace"])},
            "env": env,
            "secrets": self.secrets,
            "vars": self.variables,
            "inputs": inputs,
            "needs": state["needs"],
            "steps": state["steps"],
            "runner": {"os": "Linux", "arch": "X64", "temp": str(state["jdir"] / "temp")},
            "job": {"status": "failure" if state["failed"] else "success"},
        }

    def _functions(self, state: dict) -> dict:
        return {
            "success": lambda: not state["failed"],
            "failure": lambda: state["failed"],
            "always": lambda: True,
            "cancelled": lambda: False,
            "hashFiles": lambda *p: uuid.uuid5(uuid.NAMESPACE_URL, "|".join(p)).hex,
        }

    # -- one step -----------------------------------------------------------------------------------
    def _step(self, index: int, step: dict, job: dict, workflow: dict, github: dict, inputs: dict, state: dict):
        name = step.get("name") or step.get("uses") or (step.get("run") or "").splitlines()[0]
        sid = step.get("id") or f"__{index}"
        functions = self._functions(state)
        env = dict(state["env"])
        for level in (workflow.get("env"), job.get("env"), step.get("env")):
            contexts = self._contexts(github, inputs, state, env)
            for key, value in (level or {}).items():
                env[key] = substitute(str(value), Evaluator(contexts, functions))
        evaluator = Evaluator(self._contexts(github, inputs, state, env), functions)
        if not condition(step.get("if"), evaluator):
            state["steps"][sid] = {"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}
            return StepResult(name, "skipped", id=sid)
        files = {k: state["jdir"] / f"{k.lower()}-{index}" for k in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH")}
        for path in files.values():
            path.touch()
        summary = state["jdir"] / "summary.md"
        summary.touch()
        process_env = self._process_env(github, state, env, files, summary)
        with_ = {k: substitute(str(v), evaluator) for k, v in (step.get("with") or {}).items()}
        try:
            if "uses" in step:
                code, log = self._action(step["uses"], with_, state, process_env)
            else:
                code, log = self._bash(step, job, workflow, evaluator, state, process_env)
        except subprocess.TimeoutExpired as exc:
            code, log = 124, f"harness: timed out after {exc.timeout}s\n{exc.output or ''}"
        outputs = parse_outputs(files["GITHUB_OUTPUT"])
        state["env"].update(parse_outputs(files["GITHUB_ENV"]))
        state["path"] = [p for p in files["GITHUB_PATH"].read_text().splitlines() if p] + state["path"]
        outcome = "success" if code == 0 else "failure"
        state["steps"][sid] = {"outputs": outputs, "outcome": outcome, "conclusion": outcome}
        return StepResult(name, outcome, log, outputs, sid)

    def _process_env(self, github: dict, state: dict, env: dict, files: dict, summary: Path) -> dict[str, str]:
        path = [*state["path"], BASE_BIN, "/usr/local/bin", "/usr/bin", "/bin"]
        base = {
            "PATH": os.pathsep.join(path),
            "HOME": str(state["jdir"] / "home"),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "DVC_NO_ANALYTICS": "1",
            "RUNNER_OS": "Linux",
            "RUNNER_TEMP": str(state["jdir"] / "temp"),
            "GITHUB_WORKSPACE": str(state["workspace"]),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_API_URL": self.api_url,
            **{k: str(v) for k, v in files.items()},
        }
        for key in ("event_name", "event_path", "ref", "ref_name", "ref_type", "sha", "repository", "run_id"):
            base[f"GITHUB_{key.upper()}"] = github[key]
        for key in ("run_number", "actor", "server_url", "base_ref", "head_ref", "repository_owner"):
            base[f"GITHUB_{key.upper()}"] = github[key]
        return {**base, **env}

    def _bash(self, step: dict, job: dict, workflow: dict, evaluator: Evaluator, state: dict, env: dict):
        script = substitute(step["run"], evaluator)
        defaults = {
            **((workflow.get("defaults") or {}).get("run") or {}),
            **((job.get("defaults") or {}).get("run") or {}),
        }
        shell = step.get("shell") or defaults.get("shell")
        cwd = state["workspace"] / substitute(
            str(step.get("working-directory") or defaults.get("working-directory") or "."), evaluator
        )
        path = state["jdir"] / f"step-{uuid.uuid4().hex[:8]}.sh"
        path.write_text(script)
        if shell in (None, "bash"):
            argv = (
                ["bash", "-e", str(path)]
                if shell is None
                else ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)]
            )
        elif shell == "sh":
            argv = ["sh", "-e", str(path)]
        else:
            raise NotImplementedError(f"the harness runs bash and sh steps only, not shell: {shell}")
        minutes = step.get("timeout-minutes") or job.get("timeout-minutes")
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        state["groups"].append(proc.pid)  # what the step leaves running ends with the job, as on a runner
        try:
            out, _ = proc.communicate(timeout=min(self.timeout, (minutes or 60) * 60))
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            out, _ = proc.communicate()
            return 124, f"$ {script}\n{out}\nharness: the step timed out"
        return proc.returncode, f"$ {script}\n{out}"

    # -- stand-ins for actions ----------------------------------------------------------------------
    def _action(self, uses: str, with_: dict, state: dict, env: dict) -> tuple[int, str]:
        action = uses.split("@")[0]
        handler = ACTIONS.get(action)
        if handler is None:
            return 1, f"harness: unknown action {uses}: add a stand-in to tests/workflow_actions.py"
        return handler(self, with_, state, env)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)


def _needs(job: dict) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)
