"""Which mlctl a new project installs: one requirement, written once into its pyproject.toml.

The distribution is ``mlctl-toolkit`` (the name ``mlctl`` on the public index is
another project); the import package and the command stay ``mlctl``. The
requirement is derived from how the running mlctl was installed (PEP 610
``direct_url.json``): a VCS URL pinned to its commit, a wheel or archive URL, or
``mlctl-toolkit==<version>`` from an index. A local editable checkout or a local
directory cannot be installed elsewhere: the caller warns and says what to pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from mlctl.errors import ConfigError

DIST = "mlctl-toolkit"
EXTRAS = ("s3",)  # generated projects push to an S3-compatible DVC remote in CI
HOW = (
    "pass --mlctl-spec with a requirement another machine can install, e.g. "
    f"'{DIST}==0.1.0' (from an index), 'git+https://github.com/ORG/mlctl@v0.1.0' or "
    "'https://host/mlctl_toolkit-0.1.0-py3-none-any.whl'"
)


@dataclass(frozen=True)
class Spec:
    """The requirement written into the project, and a warning when it will not install elsewhere."""

    requirement: str
    origin: str  # vcs | archive | index | given | local
    warning: str | None = None

    @property
    def url(self) -> str | None:
        return self.requirement.split(" @ ", 1)[1] if " @ " in self.requirement else None


def _with_extras(name_extras: str, extras: tuple[str, ...]) -> str:
    from packaging.requirements import Requirement

    req = Requirement(name_extras)
    wanted = sorted(set(req.extras) | set(extras))
    return f"{DIST}[{','.join(wanted)}]" if wanted else DIST


def _version() -> str:
    from mlctl import __version__

    return __version__


def parse(text: str, extras: tuple[str, ...] = EXTRAS) -> Spec:
    """``--mlctl-spec``: a requirement (``mlctl-toolkit==X``, ``mlctl-toolkit @ URL``), a bare URL or a version."""
    from packaging.requirements import InvalidRequirement, Requirement

    text = text.strip()
    if not text:
        raise ConfigError("--mlctl-spec is empty", hint=HOW)
    if "://" in text and " @ " not in text:  # a bare URL (git+https://..., https://...whl, file:///...)
        text = f"{DIST} @ {text}"
    elif text[0].isdigit():  # a bare version
        text = f"{DIST}=={text}"
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise ConfigError(f"--mlctl-spec is not a valid requirement: {exc}", hint=HOW) from None
    if req.name.replace("_", "-").lower() != DIST:
        raise ConfigError(
            f"--mlctl-spec names the distribution {req.name!r}, not {DIST!r}",
            hint=f"mlctl is published as {DIST} (the name 'mlctl' on the public index is another project)",
        )
    head = _with_extras(f"{DIST}[{','.join(req.extras)}]" if req.extras else DIST, extras)
    if req.url:
        warning = (
            f"{req.url} is a local path: only this machine can install it" if req.url.startswith("file:") else None
        )
        return Spec(f"{head} @ {req.url}", "given", warning)
    if not str(req.specifier):
        raise ConfigError(f"--mlctl-spec {text!r} has no version", hint=f"pin it, e.g. {DIST}=={_version()}")
    return Spec(f"{head}{req.specifier}", "given")


def from_direct_url(info: dict | None, version: str, extras: tuple[str, ...] = EXTRAS) -> Spec:
    """The requirement for an installed distribution from its PEP 610 record (None: from an index)."""
    head = _with_extras(DIST, extras)
    pinned = f"{head}=={version}"
    if info is None:
        return Spec(pinned, "index")
    url = str(info.get("url", ""))
    subdirectory = info.get("subdirectory")
    fragment = f"#subdirectory={subdirectory}" if subdirectory else ""
    if "vcs_info" in info:
        vcs = info["vcs_info"]
        commit = vcs.get("commit_id") or vcs.get("requested_revision")
        ref = f"@{commit}" if commit else ""
        spec = Spec(f"{head} @ {vcs.get('vcs', 'git')}+{url}{ref}{fragment}", "vcs")
        if url.startswith("file:"):
            return Spec(spec.requirement, "local", f"mlctl was installed from a local repository ({url}). {HOW}")
        return spec
    if "archive_info" in info:
        if url.startswith("file:"):
            warning = f"mlctl was installed from a local file ({url}): only this machine can install it. {HOW}"
            return Spec(f"{head} @ {url}{fragment}", "local", warning)
        return Spec(f"{head} @ {url}{fragment}", "archive")
    # dir_info: a local directory, editable or not: nowhere else has it
    editable = bool(info.get("dir_info", {}).get("editable"))
    what = "a local editable checkout" if editable else "a local directory"
    return Spec(
        pinned,
        "local",
        f"mlctl runs from {what} ({url}); the project pins {pinned}, which may not exist on an index. {HOW}",
    )


def installed(extras: tuple[str, ...] = EXTRAS) -> Spec:
    """The requirement for the mlctl that is running now."""
    from importlib import metadata

    version = _version()
    try:
        dist = metadata.distribution(DIST)
    except metadata.PackageNotFoundError:
        dist = None
    if dist is None or not _provides_running_mlctl(dist):
        pinned = f"{_with_extras(DIST, extras)}=={version}"
        warning = f"mlctl runs from source files, not an installed {DIST}; the project pins {pinned}. {HOW}"
        return Spec(pinned, "local", warning)
    text = dist.read_text("direct_url.json")
    try:
        info = json.loads(text) if text else None
    except json.JSONDecodeError:
        info = None
    return from_direct_url(info, dist.version or version, extras)


def _provides_running_mlctl(dist) -> bool:
    """False when the mlctl imported now is not the installed distribution's (a checkout on PYTHONPATH)."""
    from pathlib import Path

    import mlctl

    base = Path(str(dist.locate_file(""))).resolve()
    if (base / "pyproject.toml").is_file():  # metadata left in a source checkout (egg-info of a build), not installed
        return False
    entry = next((f for f in dist.files or [] if str(f).replace("\\", "/") == "mlctl/__init__.py"), None)
    if entry is None:  # an editable install: its direct_url.json says where the code is
        return True
    return Path(str(dist.locate_file(entry))).resolve() == Path(mlctl.__file__).resolve()


def resolve(given: str | None, extras: tuple[str, ...] = EXTRAS) -> Spec:
    """``--mlctl-spec`` when given, else derived from the running installation."""
    return parse(given, extras) if given else installed(extras)
