"""`mlctl init`: a ready project from one data file — git, DVC, params.yaml, schema, pipeline, CI.

Two steps so the CLI can ask the user in between: ``analyse`` reads the data
and infers the task and column roles (nothing is written); ``create`` lays out
the project. A failure in ``create`` removes what it wrote.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import ConfigError, DataError, InputNotFoundError
from mlctl.core.progress import NoProgress
from mlctl.stages.init.roles import Analysis

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.core.progress import Progress
    from mlctl.stages.init.spec import Spec

MIN_ROWS = 30  # fewer rows cannot be split three ways and cross-validated
# Leading bytes of files people mistake for tables.
MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (or an Excel .xlsx workbook)",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office file",
    b"\x1f\x8b": "a gzip archive",
    b"SQLite format 3": "an SQLite database",
}


@dataclass
class InitResult:
    """What `mlctl init` created."""

    directory: str
    source: str
    mlctl_requirement: str  # the one place the project names the mlctl it installs (pyproject.toml)
    commit: str
    files: list[str]
    analysis: dict[str, Any]
    warnings: list[str]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def check_directory(directory: Path) -> None:
    """The project directory must be new or empty: init never overwrites files."""
    if directory.exists() and not directory.is_dir():
        raise ConfigError("exists and is not a directory", where=str(directory), hint="choose another project path")
    if directory.is_dir() and any(directory.iterdir()):
        shown = ", ".join(sorted(p.name for p in directory.iterdir())[:5])
        raise ConfigError(
            f"the directory exists and is not empty ({shown})",
            where=str(directory),
            hint="mlctl init never overwrites files: choose a new directory (it is created) or an empty one",
        )


def _sniff(path: Path, fmt: str) -> None:
    """Refuse binary files that are not the table format their name says."""
    head = path.read_bytes()[:4096] if path.stat().st_size < 4096 else path.open("rb").read(4096)
    if fmt == "parquet":
        if not head.startswith(b"PAR1"):
            raise DataError("not a Parquet file (no PAR1 header)", where=str(path), hint="check the file and its name")
        return
    for magic, what in MAGIC.items():
        if head.startswith(magic) and not (magic == b"\x1f\x8b" and path.suffix.lower() == ".gz"):
            raise DataError(
                f"not a table: the file is {what}", where=str(path), hint="pass a CSV, Parquet or JSON-lines file"
            )
    if b"\x00" in head:
        raise DataError(
            f"not a {fmt.upper()} file: it holds binary data",
            where=str(path),
            hint="pass a CSV, Parquet or JSON-lines file (text CSV must be UTF-8 or set an encoding later)",
        )


def is_url(data: str | Path) -> bool:
    """A database or HTTP(S) URL (or a ``${VARIABLE}`` holding one) rather than a file path."""
    text = str(data)
    return "://" in text or text.startswith("${")


def remote_entry(url: str, query: str | None) -> dict[str, str]:
    """The collect source for a URL: SQL with a query, else HTTP(S); a relative SQLite path made absolute."""
    if query is None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                "a database URL (or a ${VARIABLE} holding one) needs --query",
                where=url,
                hint="e.g. --query 'SELECT * FROM customers'; an HTTP(S) file is passed as its URL",
            )
        _refuse_password(url)
        return {"url": url}
    _refuse_password(url)
    prefix = next((p for p in ("sqlite:///", "sqlite+pysqlite:///") if url.startswith(p)), None)
    if prefix and not url[len(prefix) :].startswith(("/", ":memory:", "${")):
        url = prefix + str(Path(url[len(prefix) :]).resolve())  # the project lives elsewhere
    return {"url": url, "query": query}


def _refuse_password(url: str) -> None:
    """A password typed into the URL would be committed in params.yaml: ask for a variable instead."""
    from urllib.parse import urlsplit

    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password and "${" not in password:
        raise ConfigError(
            "the URL holds a password, which params.yaml (committed to git) would keep",
            where=url.replace(password, "***"),
            hint="export DATABASE_URL='...' and pass --data '${DATABASE_URL}' (or write ${DB_PASSWORD} in the URL); "
            "in CI map a secret of that name into the step's env",
        )


def _read_remote(entry: dict[str, str], name: str) -> pd.DataFrame:
    from mlctl.core.project import Project
    from mlctl.data.sources import read_source
    from mlctl.params import Source

    source = Source(name=name, **entry)
    return read_source(source, Project(Path.cwd())).frame


def read_data(data: Path | str, query: str | None = None) -> tuple[pd.DataFrame, str, dict[str, str] | None]:
    """Read the data the way `mlctl collect` will, with errors for a first-time user.

    Returns the frame, its format, and the collect source entry when ``data`` is a URL.
    """
    from mlctl.core.fileio import table_format
    from mlctl.data.sources import normalise, parse_table

    if is_url(data):
        entry = remote_entry(str(data), query)
        df = _read_remote(entry, "data")
        _check_shape(df, str(data))
        return df, "sql" if "query" in entry else "http", entry
    if query is not None:
        raise ConfigError("--query only applies when --data is a database URL", where=str(data))
    data = Path(data)
    if not data.exists():
        raise InputNotFoundError("data file not found", where=str(data), hint="check the path given to --data")
    if data.is_dir():
        raise ConfigError("--data must be a file, not a directory", where=str(data))
    fmt = table_format(data)
    if data.stat().st_size == 0:
        raise DataError("the data file is empty", where=str(data))
    _sniff(data, fmt)
    df = parse_table(data, fmt, {}, data.stem, str(data))
    df, _ = normalise(df, data.name)
    _check_shape(df, str(data))
    return df, fmt, None


def _check_shape(df: pd.DataFrame, where: str) -> None:
    if len(df.columns) < 2:
        raise DataError(
            f"the data has {len(df.columns)} column(s); a model needs a target and at least one feature",
            where=where,
            hint="check the delimiter (mlctl reads comma-separated CSV) and the header row",
        )
    if len(df) < MIN_ROWS:
        raise DataError(f"only {len(df)} rows: at least {MIN_ROWS} are needed to split and train", where=where)


def analyse(
    data: Path | str,
    target: str,
    *,
    task: str | None = None,
    exclude: list[str] = (),
    keep: list[str] = (),
    query: str | None = None,
    sensitive: list[str] = (),
    fairness: bool = True,
) -> Analysis:
    """Read the data and infer the task and each column's role (nothing is written).

    ``sensitive`` names protected attributes (the first is the one fairness is measured over);
    ``fairness=False`` measures no fairness gap (protected attributes stay out of the features).
    """
    from mlctl.data.cleaning import nearest
    from mlctl.stages.init.roles import _numeric_values, describe_target, infer_task
    from mlctl.stages.init.roles import analyse as analyse_roles

    df, fmt, remote = read_data(data, query)
    if target not in df.columns:
        raise ConfigError(
            f"target column {target!r} is not in the data", where=str(data), hint=nearest(target, list(df.columns))
        )
    for flag, names in (("--exclude", exclude), ("--keep", keep), ("--sensitive", sensitive)):
        for name in names:
            if name not in df.columns:
                raise ConfigError(
                    f"{flag} names column {name!r}, which is not in the data", hint=nearest(name, list(df.columns))
                )
            if name == target:
                raise ConfigError(f"{flag} names the target {target!r}", hint="the target is never a feature anyway")
    y = df[target]
    if y.notna().sum() < MIN_ROWS:
        raise DataError(f"the target {target!r} has only {int(y.notna().sum())} non-missing values", where=target)
    inferred, reason = infer_task(y)
    if task is None:
        task = inferred
    elif task != inferred:
        reason = f"set with --task ({reason}: mlctl would have guessed {inferred})"
    else:
        reason = f"set with --task; {reason}"
    if task == "regression" and _numeric_values(y.dropna()) is None:
        raise ConfigError(
            f"--task regression needs a numeric target; {target!r} holds labels such as {str(y.dropna().iloc[0])!r}",
            hint="use --task classification (or leave --task out)",
        )
    info = describe_target(y, task, reason)
    if task == "classification" and info.n_classes < 2:
        raise DataError(f"the target {target!r} has a single class", where=target, hint="a classifier needs 2+")
    roles = analyse_roles(df, target, exclude=list(exclude), keep=list(keep), sensitive=list(sensitive))
    if not any(not r.excluded for r in roles):
        raise DataError(
            "no usable feature column: every column was excluded",
            where=str(data),
            hint="see the reasons with `mlctl init ... --yes --json`; keep a column with --keep NAME",
        )
    where = str(data) if remote else Path(data)
    return Analysis(where, fmt, len(df), len(df.columns), target, info, roles, df, remote, fairness=fairness)


def create(
    directory: Path,
    analysis: Analysis,
    progress: Progress | None = None,
    *,
    quick: bool = False,
    spec: Spec | None = None,
) -> InitResult:
    """Lay out the project in ``directory``; on failure remove everything written.

    ``spec`` is the mlctl requirement the project installs (default: the running installation's).
    """
    from mlctl.stages.init.spec import installed

    check_directory(directory)
    spec = spec or installed()
    started = time.perf_counter()
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    try:
        return _create(directory.resolve(), analysis, progress or NoProgress(), started, quick, spec)
    except BaseException:
        if created:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            for child in directory.iterdir():
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
        raise


def _create(root: Path, analysis: Analysis, progress: Progress, started: float, quick: bool, spec: Spec) -> InitResult:
    from mlctl.stages.init import files, layout

    progress.start("init: writing files", total=5)
    source = layout.copy_source(root, analysis) if analysis.remote is None else analysis.remote["url"]
    layout.write_files(root, analysis, source, quick=quick, requirement=spec.requirement)
    progress.advance()
    files.init_repository(root)
    progress.advance()
    if analysis.remote is None:
        files.track_with_dvc(root, source)
    progress.advance()
    warnings = ([spec.warning] if spec.warning else []) + layout.infer_schema(root)
    warnings += [
        f"{r.name!r} is a model feature although it looks like personal data ({r.reason})"
        for r in analysis.roles
        if not r.excluded and "was: personal data" in r.reason
    ]
    progress.advance()
    commit = files.initial_commit(root, f"mlctl init: {analysis.target_info.task} of {analysis.target!r} from {source}")
    progress.advance()
    progress.done()
    tracked = files.git(root, "ls-files").splitlines()
    return InitResult(
        directory=str(root),
        source=source,
        mlctl_requirement=spec.requirement,
        commit=commit,
        files=tracked,
        analysis=analysis.to_dict(),
        warnings=warnings,
        seconds=round(time.perf_counter() - started, 2),
    )


def run(
    directory: Path,
    data: Path,
    target: str,
    *,
    task: str | None = None,
    exclude: list[str] = (),
    keep: list[str] = (),
    quick: bool = False,
    progress: Progress | None = None,
    mlctl_spec: str | None = None,
    query: str | None = None,
    sensitive: list[str] = (),
    fairness: bool = True,
) -> InitResult:
    """analyse + create, with no questions asked (the library never prompts)."""
    from mlctl.stages.init.spec import resolve

    check_directory(directory)
    spec = resolve(mlctl_spec)
    analysis = analyse(
        data, target, task=task, exclude=exclude, keep=keep, query=query, sensitive=sensitive, fairness=fairness
    )
    return create(directory, analysis, progress, quick=quick, spec=spec)
