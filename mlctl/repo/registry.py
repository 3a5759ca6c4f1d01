"""A model registry on git tags, following GTO's conventions.

- a version is an annotated tag ``name@vX.Y.Z`` on the commit that holds the model;
- a stage assignment is an annotated tag ``name#stage#N`` (N counts up per stage),
  on the same commit as the version it assigns; the highest N is in effect.

So every registration, promotion and rollback is a record in git, and CI/CD can
act on pushed tags. Promotion requires a passing ``reports/gate.json`` at the
version's commit.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from mlctl.core import artifacts as A
from mlctl.core.errors import ConfigError, ExternalError, GateRejectedError, InputNotFoundError
from mlctl.repo import git

NAME = r"[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?"
VERSION_TAG = re.compile(rf"^(?P<name>{NAME})@v(?P<version>\d+\.\d+\.\d+)$")
STAGE_TAG = re.compile(rf"^(?P<name>{NAME})#(?P<stage>{NAME})#(?P<n>\d+)$")
GATE_REPORT = A.GATE_REPORT
IN_TAGS = "the model registry lives in git tags"


@dataclass(frozen=True)
class Version:
    """A registered model version."""

    name: str
    version: str
    commit: str
    tag: str
    created: str
    message: str

    @property
    def key(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.version.split("."))


@dataclass(frozen=True)
class Assignment:
    """A stage assignment: stage → version, as of tag number ``n``."""

    name: str
    stage: str
    n: int
    version: str | None
    commit: str
    tag: str
    created: str
    message: str


def check_name(name: str) -> str:
    """Model names are lower-case words with - or _ (they become parts of git tags)."""
    if not re.fullmatch(NAME, name):
        raise ConfigError(f"invalid model name {name!r}", hint="use lower-case letters, digits, - and _")
    return name


def _tags(root: Path) -> list[tuple[str, str, str, str]]:
    """(tag, commit, creation date, subject) for every tag in the repository."""
    fmt = "%(refname:strip=2)%00%(*objectname)%(objectname)%00%(creatordate:iso-strict)%00%(contents:subject)"
    out = git.output(root, "for-each-ref", "refs/tags", f"--format={fmt}", purpose=IN_TAGS)
    rows = []
    for line in out.splitlines():
        tag, objs, created, subject = line.split("\x00")
        # Annotated tags print the peeled commit then the tag object: the first 40 hex chars are the commit.
        rows.append((tag, objs[:40], created, subject))
    return rows


def versions(root: Path, name: str) -> list[Version]:
    """Registered versions of ``name``, oldest first."""
    found = []
    for tag, commit, created, subject in _tags(root):
        m = VERSION_TAG.match(tag)
        if m and m["name"] == name:
            found.append(Version(name, m["version"], commit, tag, created, subject))
    return sorted(found, key=lambda v: v.key)


def assignments(root: Path, name: str) -> list[Assignment]:
    """Every stage assignment of ``name``, oldest first."""
    by_commit = {v.commit: v.version for v in versions(root, name)}
    found = []
    for tag, commit, created, subject in _tags(root):
        m = STAGE_TAG.match(tag)
        if m and m["name"] == name:
            found.append(
                Assignment(name, m["stage"], int(m["n"]), by_commit.get(commit), commit, tag, created, subject)
            )
    return sorted(found, key=lambda a: (a.stage, a.n))


def current_stages(root: Path, name: str) -> dict[str, Assignment]:
    """The assignment in effect for each stage (the highest N)."""
    latest: dict[str, Assignment] = {}
    for a in assignments(root, name):
        latest[a.stage] = a
    return latest


def _next_version(existing: list[Version], bump: str) -> str:
    if not existing:
        return "0.1.0" if bump != "major" else "1.0.0"
    major, minor, patch = existing[-1].key
    if bump == "major":
        return f"{major + 1}.0.0"
    if bump == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def register(root: Path, name: str, ref: str = "HEAD", *, version: str | None = None, bump: str = "minor") -> Version:
    """Tag ``ref`` as a new version of ``name`` (``name@vX.Y.Z``)."""
    check_name(name)
    commit = git.output(root, "rev-parse", "--verify", f"{ref}^{{commit}}", purpose=IN_TAGS).strip()
    existing = versions(root, name)
    for v in existing:
        if v.commit == commit:
            raise ConfigError(f"{ref} ({commit[:8]}) is already registered as {v.tag}", hint="commit a new model first")
    if version:
        version = version.removeprefix("v")
        if not re.fullmatch(r"\d+\.\d+\.\d+", version):
            raise ConfigError(f"version {version!r} is not semantic (X.Y.Z)")
        if existing and tuple(int(p) for p in version.split(".")) <= existing[-1].key:
            raise ConfigError(f"version v{version} is not above the latest {existing[-1].tag}")
    else:
        version = _next_version(existing, bump)
    tag = f"{name}@v{version}"
    git.output(root, "tag", "-a", tag, commit, "-m", f"Registering model {name} version v{version}", purpose=IN_TAGS)
    return next(v for v in versions(root, name) if v.tag == tag)


def gate_report_at(root: Path, commit: str) -> dict | None:
    """reports/gate.json as committed at ``commit``, or None if it is not there."""
    proc = git.run(root, "show", f"{commit}:{GATE_REPORT}", check=False)
    if proc.returncode != 0:
        return None
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        return None


def find_version(root: Path, name: str, version: str) -> Version:
    """The registered version ``vX.Y.Z`` (or 'latest') of ``name``."""
    known = versions(root, name)
    if not known:
        raise InputNotFoundError(
            f"model {name!r} has no registered versions", hint=f"run `mlctl registry register {name}`"
        )
    if version == "latest":
        return known[-1]
    wanted = version.removeprefix("v")
    for v in known:
        if v.version == wanted:
            return v
    raise InputNotFoundError(f"{name}@v{wanted} is not registered", hint=f"versions: {', '.join(v.tag for v in known)}")


def promote(root: Path, name: str, version: str, stage: str, *, message: str | None = None) -> Assignment:
    """Assign ``stage`` to a version; refused unless the gate passed at that commit."""
    check_name(stage)
    target = find_version(root, name, version)
    report = gate_report_at(root, target.commit)
    if report is None:
        raise GateRejectedError(
            f"{target.tag} has no {GATE_REPORT} committed: it was never gated",
            hint="run `mlctl gate` and commit reports/gate.json with the model",
        )
    if not report.get("passed"):
        failed = [r.get("rule") for r in report.get("rules", []) if r.get("passed") is False]
        raise GateRejectedError(f"{target.tag} failed the gate ({', '.join(map(str, failed)) or 'see gate.json'})")
    return _assign(root, target, stage, message or f"Assigning stage {stage} to {name} version v{target.version}")


def _assign(root: Path, target: Version, stage: str, message: str) -> Assignment:
    numbers = [a.n for a in assignments(root, target.name) if a.stage == stage]
    tag = f"{target.name}#{stage}#{max(numbers, default=0) + 1}"
    git.output(root, "tag", "-a", tag, target.commit, "-m", message, purpose=IN_TAGS)
    return next(a for a in assignments(root, target.name) if a.tag == tag)


def rollback(root: Path, name: str, stage: str) -> Assignment:
    """Re-assign ``stage`` to the version it had before the current one."""
    history = [a for a in assignments(root, name) if a.stage == stage]
    if not history:
        raise InputNotFoundError(f"{name} was never assigned to {stage!r}")
    current = history[-1]
    previous = next((a for a in reversed(history[:-1]) if a.version and a.version != current.version), None)
    if previous is None:
        raise InputNotFoundError(
            f"{name}#{stage} has no earlier version to roll back to", hint="see `mlctl registry history`"
        )
    target = find_version(root, name, previous.version or "")
    return _assign(root, target, stage, f"Rolling back {name} {stage} from v{current.version} to v{target.version}")


def resolve(root: Path, ref: str) -> Version:
    """Resolve ``name@stage``, ``name@vX.Y.Z`` or ``name@latest`` to a registered version."""
    if "@" not in ref:
        raise ConfigError(f"{ref!r} is not a registry reference", hint="use name@stage, name@vX.Y.Z or name@latest")
    name, _, what = ref.partition("@")
    check_name(name)
    if re.fullmatch(r"v?\d+\.\d+\.\d+|latest", what):
        return find_version(root, name, what)
    stages = current_stages(root, name)
    if what not in stages:
        raise InputNotFoundError(
            f"no version of {name} is in stage {what!r}", hint=f"stages: {', '.join(stages) or 'none'}"
        )
    return find_version(root, name, stages[what].version or "")


def history(root: Path, name: str) -> list[dict]:
    """Every registration and assignment of ``name``, oldest first."""
    events = [{"event": "registration", **asdict(v)} for v in versions(root, name)]
    events += [{"event": "assignment", **asdict(a)} for a in assignments(root, name)]
    return sorted(events, key=lambda e: (e["created"], e["tag"]))


def fetch_artifacts(root: Path, version: Version, dest: Path, paths: tuple[str, ...]) -> list[Path]:
    """Materialise files of ``version``'s commit into ``dest`` (git or DVC-tracked, from cache or remote)."""
    return fetch_files(root, version.commit, dest, paths, label=version.tag)


def fetch_files(root: Path, rev: str, dest: Path, paths: tuple[str, ...], *, label: str | None = None) -> list[Path]:
    """Files as they are at git revision ``rev`` (git or DVC-tracked, from the cache or the remote) into ``dest``."""
    from mlctl.core.fileio import write_bytes

    out = []
    dest.mkdir(parents=True, exist_ok=True)
    for rel in paths:
        target = dest / Path(rel).name
        data = local_copy(root, rev, rel)
        if data is None:
            import dvc.api  # seconds to import: only when neither git nor the local cache has the file

            try:
                with dvc.api.open(rel, repo=str(root), rev=rev, mode="rb") as src:
                    data = src.read()
            except Exception as exc:  # dvc raises many types: path missing, no cache, remote unreachable
                raise ExternalError(
                    f"cannot fetch {rel} of {label or rev}: {exc}", hint="run `dvc push` where the model was built"
                ) from None
        out.append(write_bytes(target, data))
    return out


def local_copy(root: Path, rev: str, rel: str) -> bytes | None:
    """``rel`` at ``rev`` without DVC's machinery: from git, or from the local DVC cache by dvc.lock's md5.

    None when it is in neither (then DVC fetches it from the remote). A cache file whose
    content does not have the md5 dvc.lock records is not used.
    """
    import hashlib

    import yaml

    shown = git.run(root, "show", f"{rev}:./{rel}", check=False, text=False)
    if shown.returncode == 0:
        return shown.stdout
    lock = git.run(root, "show", f"{rev}:./dvc.lock", check=False)
    if lock.returncode != 0:
        return None
    try:
        stages = (yaml.safe_load(lock.stdout) or {}).get("stages") or {}
    except yaml.YAMLError:
        return None
    outs = [o for stage in stages.values() if isinstance(stage, dict) for o in stage.get("outs") or []]
    md5 = next((o.get("md5") for o in outs if isinstance(o, dict) and o.get("path") == rel), None)
    if not isinstance(md5, str) or not re.fullmatch(r"[0-9a-f]{32}", md5):
        return None  # a directory out (".dir") or another hash: leave it to DVC
    cached = root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    if not cached.is_file():
        return None
    data = cached.read_bytes()
    return data if hashlib.md5(data, usedforsecurity=False).hexdigest() == md5 else None


MODEL_FILES = (A.ONNX_MODEL, A.MANIFEST)


def materialise(root: Path, ref: str) -> tuple[Path, Path]:
    """Fetch the ONNX model and manifest of a registry reference into .mlctl/registry/; return their paths.

    The sha256 in the manifest is still checked when the model is loaded.
    """
    version = resolve(root, ref)
    from mlctl.core.project import Project

    # the name and version come from git tags (anyone who can push tags): keep them under .mlctl/registry/
    dest = Project(root).inside(Path(".mlctl", "registry", version.name, f"v{version.version}"), what="registry entry")
    model, manifest = dest / "model.onnx", dest / "model.json"
    if not (model.exists() and manifest.exists()):
        fetch_artifacts(root, version, dest, MODEL_FILES)
    return model, manifest


def push_tag(root: Path, tag: str, remote: str = "origin") -> None:
    """Push one registry tag to the git remote, so CI/CD (and `gto`) see it."""
    git.output(root, "push", remote, tag, purpose=IN_TAGS)
