"""`mlctl report`: this revision against a base revision, as one Markdown report for a pull request.

Reads the pipeline's artifacts in the work tree and, through git, as they are
at the base (default origin/main, else main, else HEAD~1): metrics, params,
the gate, data validation, training-data drift, plots, packages, source
fingerprints and the serving micro-benchmark. Writes reports/pr.md with its
images in reports/pr/ and, with ``post``, puts it on the pull request as one
comment that later runs edit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import ConfigError
from mlctl.core.progress import NoProgress

if TYPE_CHECKING:
    from mlctl.core.progress import Progress
    from mlctl.core.project import Project
    from mlctl.params import Common
    from mlctl.params.report import ReportParams
    from mlctl.stages.report.revisions import Base

STEPS = 5


@dataclass
class ReportResult:
    """What the report holds, where it was written, and the comment if posted."""

    output: str
    image_dir: str
    base: dict[str, str]
    head: str | None
    data: dict[str, Any] = field(repr=False)
    posted: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        from mlctl.stages.report.diff import MetricRow

        data = dict(self.data)
        data["metrics"] = [{**s, "rows": [MetricRow(**r).to_dict() for r in s["rows"]]} for s in self.data["metrics"]]
        return {"output": self.output, "image_dir": self.image_dir, "posted": self.posted, **data}


def _current_json(project: Project, rel: str) -> Any:
    """A JSON artifact in the work tree, or None if it is not there yet (a bad one is an error)."""
    from mlctl.core.fileio import read_json

    path = project.path(rel, what="report input")
    return read_json(path) if path.exists() else None


def _current_text(project: Project, rel: str) -> str | None:
    path = project.path(rel, what="report input")
    return path.read_text(encoding="utf-8") if path.exists() else None


def _current_yaml(project: Project, rel: str) -> Any:
    from mlctl.core.fileio import read_yaml

    path = project.path(rel, what="report input")
    return read_yaml(path) if path.exists() else None


def _metric_sections(project: Project, base: Base, headline: str) -> list[dict[str, Any]]:
    """Every metrics file of dvc.yaml (here and at the base), the headline file first."""
    from dataclasses import asdict

    from mlctl.stages.report.diff import metric_files, metric_rows

    base_dvc = None
    text = base.show_text("dvc.yaml")
    if text is not None:
        import yaml

        try:
            base_dvc = yaml.safe_load(text)
        except yaml.YAMLError:
            base_dvc = None
    files = metric_files(_current_yaml(project, "dvc.yaml"))
    files += [f for f in metric_files(base_dvc) if f not in files]
    files = [headline, *(f for f in files if f != headline)]
    sections = []
    for rel in files:
        this, old = _current_json(project, rel), base.show_json(rel)
        if this is None and old is None and rel != headline:
            continue
        rows = [asdict(r) for r in metric_rows(rel, old, this)]
        sections.append({"file": rel, "headline": rel == headline, "rows": rows})
    return sections


def _headline(sections: list[dict], gate: dict | None) -> dict[str, Any] | None:
    from mlctl.stages.report.compose import arrow
    from mlctl.stages.report.diff import MetricRow

    rows = [MetricRow(**r) for r in sections[0]["rows"]] if sections else []
    wanted = f"model.{gate['primary_metric']}" if gate and gate.get("primary_metric") else None
    pick = next((r for r in rows if r.key == wanted), None) or next((r for r in rows if r.direction), None)
    return None if pick is None else {"key": pick.key, "base": pick.base, "this": pick.this, "arrow": arrow(pick)}


def _features(train: dict | None):
    from mlctl.model.features import Feature

    specs = (train or {}).get("features") or []
    return [Feature(f["name"], f["kind"]) for f in specs if isinstance(f, dict) and {"name", "kind"} <= set(f)] or None


def artifacts_url(env: Mapping[str, str]) -> str | None:
    """The Actions run's page, where the uploaded `reports` artifact is listed."""
    keys = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    if not all(env.get(k) for k in keys):
        return None
    server, repo, run_id = (env[k].rstrip("/") for k in keys)
    return f"{server}/{repo}/actions/runs/{run_id}#artifacts"


def _outputs(params: ReportParams, project: Project, output: str | None) -> tuple[Path, Path]:
    out = project.path(output or params.output, what="report output")
    if out.suffix.lower() != ".md":
        raise ConfigError(f"the report is Markdown: {output or params.output!r} must end in .md", where="--output")
    return out, out.with_suffix("")  # reports/pr.md → images in reports/pr/


def collect(
    params: ReportParams, common: Common, project: Project, base: Base, image_dir: Path, progress: Progress
) -> dict[str, Any]:
    """Everything the report shows, as plain data (images are written to ``image_dir``)."""
    from dataclasses import asdict

    from mlctl.stages.report import datadrift, figures, watch
    from mlctl.stages.report.diff import param_rows

    progress.start("report: metrics and params", total=STEPS)
    sections = _metric_sections(project, base, params.metrics)
    gate = _current_json(project, params.gate_report)
    base_params = _safe_yaml(base.show_text("params.yaml"))
    params_diff = [p.to_dict() for p in param_rows(base_params, _current_yaml(project, "params.yaml"))]
    progress.advance()
    train = _current_json(project, params.train_report)
    drift = datadrift.compare(
        base,
        params.train_data,
        project.path(params.train_data, what="training data"),
        _features(train),
        common.target,
        psi=params.drift_psi_threshold,
        p_value=params.drift_p_value,
        bins=params.drift_bins,
    )
    progress.advance()
    plots_dir = project.path(params.plots_dir, what="plots directory")
    figs = figures.write_figures(plots_dir, params.plots_dir, image_dir, base)
    progress.advance()
    base_train = base.show_json(params.train_report)
    packages = watch.package_rows((base_train or {}).get("packages"), (train or {}).get("packages"))
    sources = watch.source_rows(base.show_json(params.raw_manifest), _current_json(project, params.raw_manifest))
    perf = watch.perf_rows(base.show_json(params.perf), _current_json(project, params.perf), params.perf)
    progress.advance()
    notes = []
    if gate is None:
        notes.append(f"{params.gate_report} not found: run the pipeline (`mlctl run`) before `mlctl report`")
    if not sections or not sections[0]["rows"]:
        notes.append(f"{params.metrics} has no metrics here or at the base")
    return {
        "base": {"ref": base.ref, "commit": base.commit},
        "head": base.head,
        "max_rows": params.max_rows,
        "perf_tolerance": params.perf_tolerance,
        "perf_file": params.perf,
        "headline": _headline(sections, gate),
        "metrics": sections,
        "params": params_diff,
        "gate": gate,
        "validation": _current_json(project, params.validation_report),
        "monitor": _current_json(project, params.monitor),
        "features": _current_json(project, params.features),
        "score": _score(project),
        "replay": _current_text(project, params.replay),
        "drift": drift.to_dict(),
        "figures": [{**f.to_dict(), "src": f"{image_dir.name}/{f.file.name}"} for f in figs],
        "packages": [p.to_dict() for p in packages],
        "sources": [s.to_dict() for s in sources],
        "perf": [asdict(p) for p in perf],
        "artifacts_url": None,  # set by run() from the environment it was given
        "notes": notes,
    }


def _score(project: Project) -> dict[str, Any] | None:
    """The project's ML Test Score (`mlctl score`), or None when params.yaml cannot be read."""
    from mlctl.core.errors import MlctlError
    from mlctl.params import load_params
    from mlctl.stages.score import run as score

    try:
        return score(load_params(project.params_path), project).to_dict()
    except MlctlError:
        return None


def _safe_yaml(text: str | None) -> Any:
    import yaml

    if text is None:
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def run(
    params: ReportParams,
    common: Common,
    project: Project,
    progress: Progress | None = None,
    *,
    base: str | None = None,
    output: str | None = None,
    post: bool = False,
    branch: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ReportResult:
    """Write the pull-request report (and post it as the PR's mlctl comment when ``post``).

    ``branch`` (with ``post``): open or update the one pull request from that branch into the base
    branch first (continuous training), instead of reading the pull request from the Actions event.
    """
    from mlctl.core.fileio import write_text
    from mlctl.stages.report import github
    from mlctl.stages.report.compose import render
    from mlctl.stages.report.revisions import resolve_base

    progress = progress or NoProgress()
    env = os.environ if env is None else env
    from mlctl.stages.report import pulls

    if branch and not post:
        raise ConfigError("--branch only applies with --post", hint="add --post, or leave --branch out")
    # fail on a missing token before any work
    repo = pulls.repository_from_env(env) if post and branch else None
    target = github.target_from_env(env) if post and not branch else None
    out, image_dir = _outputs(params, project, output)
    resolved = resolve_base(project.root, base or params.base)
    data = collect(params, common, project, resolved, image_dir, progress)
    data["artifacts_url"] = artifacts_url(env)
    text = render(data, image_dir=project.rel(image_dir))
    write_text(out, text)
    progress.advance()
    posted = None
    pull = None
    if repo is not None:
        base_name = pulls.base_branch(resolved.ref)
        pull = pulls.open_or_update(repo, branch, base_name, _pr_title(data, branch), _pr_body(data, branch))
        target = repo.target(pull.number)
    if target is not None:
        progress.start("report: posting the pull-request comment", total=1)
        comment = render(data, image_dir=project.rel(image_dir), for_comment=True)
        posted = github.post(comment, target, timeout=params.timeout).to_dict()
        if pull is not None:
            posted["pull_request_action"], posted["pull_request_url"] = pull.action, pull.url
        progress.advance()
    progress.done()
    return ReportResult(project.rel(out), project.rel(image_dir), data["base"], resolved.head, data, posted)


def _pr_title(data: dict, branch: str) -> str:
    gate = data.get("gate") or {}
    verdict = "accepted by the gate" if gate.get("passed") else "rejected by the gate" if gate else "not gated"
    return f"mlctl: retrained candidate from {branch} ({verdict})"


def _pr_body(data: dict, branch: str) -> str:
    return (
        f"Continuous training committed a new candidate on `{branch}` (data, model and metrics changed; "
        "its DVC outputs are on the remote: `dvc pull` after checking out the branch).\n\n"
        "The comparison with the base branch is in the mlctl report comment below; each scheduled run "
        "updates this pull request instead of opening another."
    )
