"""The champion on the candidate's rows: its model fetched at a reference, scored like `evaluate`.

The reference is a git revision ("main", "HEAD~1") or a registry reference
("model@prod", "model@v1.2.0", resolved through the registry's git tags). The
champion's model.skops and train.json are read at that commit through DVC (from
the cache or the remote), scored on the candidate's current test split with the
code `mlctl evaluate` uses, and a paired bootstrap over those rows gives the
interval of candidate − champion. Anything that makes the champion's model
unreachable (no git, an unknown revision or stage, a model never pushed) is a
reason to skip the rule, never to pass it: the first model of a project has no
champion.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlctl.core import artifacts as A
from mlctl.core.errors import ConfigError, ExternalError, MlctlError
from mlctl.repo import git, registry

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.core.project import Project


@dataclass(frozen=True)
class Champion:
    """The champion scored on the candidate's rows, or why it could not be."""

    ref: str
    reason: str | None = None  # set when the rule must be skipped
    commit: str | None = None
    version: str | None = None  # the registry tag, when the reference went through the registry
    rows: int = 0
    rows_sha256: str | None = None
    scores: dict[str, dict[str, float | None]] = field(default_factory=dict)  # candidate / champion -> metrics
    paired: dict[str, dict[str, Any]] = field(default_factory=dict)  # metric -> paired interval

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def is_registry_ref(ref: str) -> bool:
    """``name@stage`` / ``name@vX.Y.Z`` are registry references; ``HEAD@{1}`` and ``@`` are git."""
    return "@" in ref and "@{" not in ref and ref != "@"


def resolve(root: Path, ref: str) -> tuple[str | None, str | None, str | None]:
    """(commit, registry tag, reason it cannot be resolved) for a champion reference."""
    if ref.startswith("-"):
        raise ConfigError(f"champion ref {ref!r} is not a git revision", where="params.yaml: gate.champion.ref")
    inside = _git_or_none(root, "rev-parse", "--is-inside-work-tree")
    if inside is None:
        return None, None, "git is not available"
    if inside.returncode != 0:
        return None, None, f"{root} is not a git repository"
    if is_registry_ref(ref):
        try:
            version = registry.resolve(root, ref)
        except MlctlError as exc:
            return None, None, f"registry reference {ref!r}: {exc.message}"
        return version.commit, version.tag, None
    found = _git_or_none(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found is None or found.returncode != 0:
        return None, None, f"revision {ref!r} does not exist"
    return found.stdout.strip(), None, None


def fetch_model(project: Project, commit: str, model_dir: str) -> Path:
    """model.skops and train.json of ``commit`` in .mlctl/champion/<commit>/ (fetched once, then reused)."""
    dest = project.inside(Path(".mlctl", "champion", commit), what="champion model")
    files = [f"{model_dir}/{A.TRAIN_REPORT_FILE}", f"{model_dir}/{A.MODEL_FILE}"]
    if not all((dest / Path(f).name).exists() for f in files):
        # train.json last: its presence says the model beside it is complete
        registry.fetch_files(project.root, commit, dest, tuple(reversed(files)), label=commit[:8])
    return dest


def rows_digest(labelled: pd.DataFrame) -> str:
    """sha256 of the rows both models were scored on (values and order), to show they were the same."""
    import pandas as pd

    hashed = pd.util.hash_pandas_object(labelled.reset_index(drop=True), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def judge(
    project: Project,
    ref: str,
    *,
    fallback: str | None,
    metrics: list[str],
    model_dir: str,
    data: str,
    resamples: int,
    seed: int,
) -> Champion:
    """Score the champion at ``ref`` (or ``fallback`` when ``ref`` does not resolve) on the candidate's rows."""
    from mlctl.core.fileio import load_skops, read_json, read_table
    from mlctl.model.metrics import compute, paired_bootstrap
    from mlctl.stages.evaluate import labelled_rows, score_rows

    commit, version, reason = resolve(project.root, ref)
    if commit is None and fallback:
        commit, version, why = resolve(project.root, fallback)
        reason = None if commit else f"{reason}; fallback {fallback!r}: {why}"
        ref = fallback if commit else ref
    if commit is None:
        return Champion(ref, reason)
    try:
        fetched = fetch_model(project, commit, model_dir)
    except ExternalError as exc:
        return Champion(ref, f"the champion's model cannot be fetched: {exc.message}", commit, version)
    directory = project.path(model_dir, what="model directory")
    candidate_info = read_json(directory / A.TRAIN_REPORT_FILE)
    info = read_json(fetched / A.TRAIN_REPORT_FILE)
    if info.get("task") != candidate_info["task"] or info.get("target") != candidate_info["target"]:
        why = f"the champion predicts {info.get('target')!r} ({info.get('task')}), not {candidate_info['target']!r}"
        return Champion(ref, why, commit, version)
    test = project.path(data, what="test split")
    labelled = labelled_rows(read_table(test), candidate_info["target"], project.rel(test))
    classes = candidate_info.get("classes")
    _, cand = score_rows(load_skops(directory / A.MODEL_FILE), labelled, candidate_info)
    try:
        _, champ = score_rows(load_skops(fetched / A.MODEL_FILE), labelled, info, classes)
    except (MlctlError, KeyError, ValueError) as exc:
        message = exc.message if isinstance(exc, MlctlError) else str(exc)
        return Champion(ref, f"the champion's model cannot score these rows: {message}", commit, version)
    paired = {m: paired_bootstrap(cand, champ, m, resamples, seed) for m in metrics}
    return Champion(
        ref,
        None,
        commit,
        version,
        rows=len(labelled),
        rows_sha256=rows_digest(labelled),
        scores={"candidate": compute(cand)[0], "champion": compute(champ)[0]},
        paired=paired,
    )


def _git_or_none(root: Path, *args: str) -> Any:
    """A git command whose failure is a reason to skip the champion rule (None: git missing or too slow)."""
    try:
        return git.run(root, *args, check=False)
    except ExternalError:
        return None
