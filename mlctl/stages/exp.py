"""`mlctl exp`: run and compare DVC experiments.

A sweep (``-S train.search.cv=3,5``, Hydra syntax as in `dvc exp run`) is
expanded here into its combinations, and each combination runs as one
`dvc exp run --set-param ...` in the workspace, one after another. That avoids
DVC's queue, whose temporary copies leave out untracked files and need a
background worker; every experiment is still recorded by DVC as usual.
"""

from __future__ import annotations

import copy
import itertools
import re
import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import ConfigError, ExternalError, InputNotFoundError
from mlctl.core.progress import NoProgress, Progress
from mlctl.repo import git

if TYPE_CHECKING:
    from mlctl.core.project import Project

_RAN = re.compile(r"Ran experiment\(s\):\s*(\S+)")


def expand_sweeps(overrides: list[str]) -> list[list[str]]:
    """Every combination of the overrides' sweep values (`k=1,2` or `k=choice(1,2)`) as plain overrides."""
    if not overrides:
        return [[]]
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(overrides=list(overrides))
    except HydraException as exc:
        raise ConfigError(
            f"cannot parse --set-param: {str(exc).splitlines()[0]}",
            hint="use KEY=VALUE (a sweep: KEY=V1,V2; a list: KEY=[A,B])",
        ) from None
    choices = []
    for ov in parsed:
        if ov.is_sweep_override():
            key = f"{ov.get_key_element()}="
            try:
                choices.append([key + v for v in ov.sweep_string_iterator()])
            except HydraException as exc:  # range()/glob sweeps that cannot be listed
                raise ConfigError(f"unsupported sweep {ov.input_line!r}: {exc}") from None
        else:
            choices.append([ov.input_line])
    return [list(combo) for combo in itertools.product(*choices)]


def check_overrides(project: Project, combo: list[str]) -> None:
    """Apply one combination to params.yaml in memory and validate it: typos fail before any run."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from mlctl.core.fileio import read_yaml
    from mlctl.params import parse_params

    data = copy.deepcopy(read_yaml(project.params_path) or {})
    for ov in OverridesParser.create().parse_overrides(overrides=combo):
        key = ov.key_or_group
        if ":" in key:  # another params file (file.yaml:key=value): not ours to check
            continue
        *parents, leaf = key.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {}) if isinstance(node, dict) else node
        if ov.is_delete():
            node.pop(leaf, None)
        else:
            node[leaf] = ov.value()
    parse_params(data, source=f"params.yaml with {' '.join(combo)}")


@dataclass
class ExpRun:
    """One experiment `mlctl exp run` ran."""

    name: str | None
    overrides: list[str]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "overrides": self.overrides, "seconds": round(self.seconds, 2)}


@dataclass
class ExpRunResult:
    """Every experiment of one `mlctl exp run` (several for a sweep)."""

    runs: list[ExpRun] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"experiments": [r.to_dict() for r in self.runs]}


def _require_commit(project: Project) -> None:
    if git.head_commit(project.root) is None:
        raise InputNotFoundError(
            "DVC experiments need a git repository with at least one commit",
            where=str(project.root),
            hint="git init && git add . && git commit -m 'baseline'",
        )
    if not (project.root / "dvc.yaml").exists():
        raise InputNotFoundError("dvc.yaml not found", where=str(project.root), hint="create one with `mlctl init`")


def run_experiments(
    project: Project, overrides: list[str], *, name: str | None = None, progress: Progress | None = None
) -> ExpRunResult:
    """Run one DVC experiment per combination of ``overrides`` (argument lists, never a shell)."""
    from mlctl.repo.pipeline import _failure, dvc_executable, stage_env

    progress = progress or NoProgress()
    combos = expand_sweeps(overrides)
    for combo in combos:
        check_overrides(project, combo)
    _require_commit(project)
    result = ExpRunResult()
    progress.start(f"{len(combos)} experiment(s)", total=len(combos))
    env = stage_env()
    for i, combo in enumerate(combos, 1):
        cmd = [*dvc_executable(), "exp", "run"]
        for ov in combo:
            cmd += ["--set-param", ov]
        if name:
            cmd += ["--name", name if len(combos) == 1 else f"{name}-{i}"]
        started = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=project.root, capture_output=True, text=True, env=env)
        except OSError as exc:
            raise ExternalError(f"cannot start dvc: {exc}", hint="install it with `pip install dvc`") from None
        log = proc.stdout + proc.stderr
        if proc.returncode != 0:
            raise _failure(log, proc.returncode)
        m = _RAN.search(log)
        result.runs.append(ExpRun(m.group(1) if m else None, combo, time.perf_counter() - started))
        progress.advance()
    progress.done()
    return result


@dataclass
class ExpRow:
    """One line of the comparison: the workspace, a baseline commit or an experiment."""

    name: str
    rev: str
    kind: str  # workspace | baseline | experiment
    baseline: str | None
    created: str | None
    params: dict[str, Any]
    metrics: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class ExpTable:
    """The comparison table of `mlctl exp show`."""

    rows: list[ExpRow]
    param_columns: list[str]
    metric_columns: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "param_columns": self.param_columns,
            "metric_columns": self.metric_columns,
            "experiments": [r.to_dict() for r in self.rows],
        }


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: data}


def _by_file(section: dict | None, default_file: str | None) -> dict[str, Any]:
    # {"params.yaml": {"data": {...}}} -> flat keys; other files keep a "file:" prefix.
    out: dict[str, Any] = {}
    for file, entry in (section or {}).items():
        if not isinstance(entry, dict) or "data" not in entry:
            continue  # e.g. a metrics file that a baseline commit does not have
        prefix = "" if file == default_file else f"{file}:"
        out.update({prefix + k: v for k, v in _flatten(entry["data"]).items()})
    return out


def parse_exp_show(entries: list[dict]) -> list[ExpRow]:
    """Rows from `dvc exp show --json` (DVC 3: workspace, then baselines with their experiments)."""
    metric_files = {f for e in entries for f in ((e.get("data") or {}).get("metrics") or {})}
    single = next(iter(metric_files)) if len(metric_files) == 1 else None

    def row(entry: dict, kind: str, baseline: str | None) -> ExpRow:
        data = entry.get("data") or {}
        rev = entry.get("rev") or data.get("rev") or ""
        return ExpRow(
            name=entry.get("name") or ("workspace" if rev == "workspace" else rev[:7]),
            rev=rev if rev == "workspace" else rev[:7],
            kind=kind,
            baseline=baseline,
            created=data.get("timestamp"),
            params=_by_file(data.get("params"), "params.yaml"),
            metrics=_by_file(data.get("metrics"), single),
        )

    rows = []
    for entry in entries:
        if entry.get("rev") == "workspace":
            rows.append(row(entry, "workspace", None))
            continue
        base = row(entry, "baseline", None)
        rows.append(base)
        for exp in entry.get("experiments") or []:
            for rev in exp.get("revs") or []:
                rows.append(row({**rev, "name": rev.get("name") or exp.get("name")}, "experiment", base.name))
    return rows


def show_experiments(project: Project, *, all_params: bool = False) -> ExpTable:
    """Params and metrics of the workspace, HEAD and its experiments, from `dvc exp show --json`."""
    import json

    from mlctl.repo.pipeline import dvc_executable

    _require_commit(project)
    cmd = [*dvc_executable(), "exp", "show", "--json"]
    proc = subprocess.run(cmd, cwd=project.root, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-10:])
        raise ExternalError(f"dvc exp show failed (exit {proc.returncode}):\n{tail}")
    try:
        entries = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise ExternalError(f"dvc exp show printed something that is not JSON: {exc}") from None
    rows = parse_exp_show(entries)
    params = list(dict.fromkeys(k for r in rows for k in r.params))
    if not all_params:  # only what differs between rows: the rest says nothing
        params = [k for k in params if len({repr(r.params.get(k)) for r in rows}) > 1]
    metrics = list(dict.fromkeys(k for r in rows for k in r.metrics))
    return ExpTable(rows, params, metrics)
