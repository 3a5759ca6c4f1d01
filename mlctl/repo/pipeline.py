"""Run the project's pipeline through `dvc repro` and report each stage's outcome."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from mlctl.core import errors
from mlctl.core.errors import ConfigError, ExternalError, InputNotFoundError, MlctlError
from mlctl.core.progress import NoProgress, Progress
from mlctl.core.project import Project

_RUNNING = re.compile(r"Running stage '([^']+)'")
_SKIPPED = re.compile(r"Stage '([^']+)' didn't change, skipping")
_FAILED = re.compile(r"failed to reproduce '([^']+)'.*?exited with (\d+)", re.S)

# A stage command's exit code, re-raised as the same error class so `mlctl run`
# exits with the code the failing stage used (e.g. 5 when the gate rejects).
_BY_CODE = {
    cls.exit_code: cls
    for cls in (
        errors.ConfigError,
        errors.InputNotFoundError,
        errors.DataValidationError,
        errors.GateRejectedError,
        errors.ExternalError,
        errors.DriftDetected,
        errors.ModelError,
    )
}


@dataclass
class StageOutcome:
    """One stage of a run: ran, up to date, or failed."""

    name: str
    status: str = "pending"
    seconds: float = 0.0


@dataclass
class RunResult:
    """What `run_pipeline` did."""

    stages: list[StageOutcome] = field(default_factory=list)
    seconds: float = 0.0
    log: str = ""

    @property
    def ran(self) -> int:
        return sum(s.status == "ran" for s in self.stages)

    @property
    def skipped(self) -> int:
        return sum(s.status == "up to date" for s in self.stages)


def stage_names(project: Project) -> list[str]:
    """The stages declared in dvc.yaml, in file order."""
    from mlctl.core.fileio import read_yaml

    path = project.root / "dvc.yaml"
    if not path.exists():
        raise InputNotFoundError("dvc.yaml not found", where=str(path), hint="create one with `mlctl init`")
    return list((read_yaml(path) or {}).get("stages", {}))


def missing_params(project: Project) -> list[str]:
    """Params keys that dvc.yaml stages depend on but params.yaml lacks (DVC refuses to run then)."""
    from mlctl.core.fileio import read_yaml

    stages = (read_yaml(project.root / "dvc.yaml") or {}).get("stages", {})
    try:
        params = read_yaml(project.params_path) or {}
    except MlctlError:
        return []  # not YAML: loading params.yaml says so, as a config error
    missing = []
    for stage in stages.values():
        for key in stage.get("params", []):
            if not isinstance(key, str):
                continue  # {file: [keys]} entries name other files: DVC checks those itself
            node: object = params
            for part in key.split("."):
                node = node.get(part, _ABSENT) if isinstance(node, dict) else _ABSENT
            if node is _ABSENT and key not in missing:
                missing.append(key)
    return missing


_ABSENT = object()


def dvc_executable() -> list[str]:
    """The command that runs DVC: the `dvc` beside this Python, else on PATH."""
    local = Path(sys.executable).with_name("dvc")
    if local.exists():
        return [str(local)]
    found = shutil.which("dvc")
    if found:
        return [found]
    return [sys.executable, "-m", "dvc"]


def stage_env() -> dict[str, str]:
    """The environment of `dvc repro` and its stages: this interpreter's bin directory first on PATH.

    Stages call `mlctl <stage>`; run as /venv/bin/mlctl without an activated venv,
    `mlctl` would not be on PATH (exit 127). The directory is the interpreter's as
    invoked, not its symlink target: a venv's python often links to the system one.
    """
    bindir = str(Path(sys.executable).parent)
    parts = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    if bindir not in parts[:1]:
        parts.insert(0, bindir)
    if bindir not in parts[2:]:
        # and last: under pyenv, DVC drops the first entries of PATH (those `pyenv exec` put there)
        parts.append(bindir)
    return {**os.environ, "PATH": os.pathsep.join(parts), "PYTHONUNBUFFERED": "1"}


def run_pipeline(
    project: Project, targets: list[str], *, force: bool = False, progress: Progress | None = None
) -> RunResult:
    """Run `dvc repro` (argument list, no shell) and follow its stages as they run."""
    return start_pipeline(project, targets, force=force).follow(progress)


def start_pipeline(project: Project, targets: list[str], *, force: bool = False, repro: Repro | None = None) -> Repro:
    """Start `dvc repro` in the background (or take ``repro``, started by `spawn`) and check its targets.

    DVC takes over a second to start: the stage names and params keys are checked meanwhile, and DVC is
    stopped if they are wrong (clearer messages than DVC's own). `.follow()` reports its stages.
    """
    repro = repro or spawn(project, targets, force=force)
    try:
        repro.known = stage_names(project)
        unknown = [t for t in targets if t not in repro.known]
        if unknown:
            raise InputNotFoundError(
                f"no such stage(s) {unknown} in dvc.yaml", hint=f"stages are: {', '.join(repro.known)}"
            )
        missing = missing_params(project)
        if missing:
            raise ConfigError(
                f"dvc.yaml stages depend on params {missing}, which params.yaml does not have",
                where=str(project.params_path),
                hint="DVC needs every listed key to exist: add e.g. `"
                + missing[0].split(".")[0]
                + ": {}` (the defaults apply; `mlctl params show` prints them)",
            )
    except BaseException:
        repro.stop()
        raise
    return repro


def spawn(project: Project, targets: list[str], *, force: bool = False) -> Repro:
    """Start `dvc repro` (argument list, no shell) in the project's root, unchecked: see `start_pipeline`."""
    cmd = [*dvc_executable(), "repro", *targets, *(["--force"] if force else [])]
    started = time.perf_counter()
    try:
        proc = subprocess.Popen(
            cmd, cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=stage_env()
        )
    except OSError as exc:
        raise ExternalError(f"cannot start dvc: {exc}", hint="install it with `pip install dvc`") from None
    return Repro(proc, [], bool(targets), started)


@dataclass
class Repro:
    """A running `dvc repro`."""

    proc: subprocess.Popen
    known: list[str]
    targeted: bool
    started: float

    def stop(self) -> None:
        """End DVC as Ctrl-C would (it records nothing for a stage it did not finish)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def follow(self, progress: Progress | None = None) -> RunResult:
        """Report each stage as DVC runs it; raise the failing stage's error."""
        progress = progress or NoProgress()
        result = RunResult(stages=[StageOutcome(n) for n in self.known])
        by_name = {s.name: s for s in result.stages}
        last = time.perf_counter()
        current: StageOutcome | None = None
        lines: list[str] = []
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            lines.append(line)
            now = time.perf_counter()
            if m := _RUNNING.search(line) or _SKIPPED.search(line):
                if current is not None:
                    current.seconds = now - last
                    current.status = "ran"
                stage = by_name.get(m.group(1))
                if stage is None:
                    continue
                last = now
                if m.re is _SKIPPED:
                    stage.status, current = "up to date", None
                    progress.done()  # the stage before it finished; no bar for one that does not run
                else:
                    stage.status, current = "running", stage
                    progress.start(f"stage {stage.name}", total=None)
        code = self.proc.wait()
        result.log = "".join(lines)
        result.seconds = time.perf_counter() - self.started
        if current is not None:
            current.seconds = time.perf_counter() - last
            current.status = "ran" if code == 0 else "failed"
        progress.done()
        if code != 0:
            raise _failure(result.log, code)
        for stage in result.stages:
            if stage.status == "pending":
                stage.status = "not requested" if self.targeted else "up to date"
        return result


def _failure(log: str, code: int) -> MlctlError:
    tail = "\n".join(log.strip().splitlines()[-15:])
    if m := _FAILED.search(log):
        stage, stage_code = m.group(1), int(m.group(2))
        cls = _BY_CODE.get(stage_code, ExternalError)
        return cls(f"stage {stage!r} failed (exit {stage_code}):\n{tail}", where="dvc.yaml")
    return ExternalError(f"dvc repro failed (exit {code}):\n{tail}", where="dvc.yaml")
