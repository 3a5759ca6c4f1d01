"""Source readers that are not local files: a SQL query, an HTTP(S) download, a bundled sklearn dataset.

Fingerprints: the query text plus the result's content hash (SQL), the
downloaded bytes (HTTP), the loader name, scikit-learn version and content
hash (sklearn).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from mlctl.errors import ConfigError, DataError, ExternalError, InputNotFoundError
from mlctl.sources import SourceData, first_line, parse_table

if TYPE_CHECKING:
    from mlctl.params.collect import Source
    from mlctl.project import Project

# Bundled with scikit-learn (no download); the fetch_* loaders are refused on purpose.
SKLEARN_DATASETS = ("iris", "wine", "breast_cancer", "diabetes", "digits", "linnerud")


VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand(text: str, source: Source, key: str = "url") -> str:
    """``${NAME}`` replaced by the environment variable NAME, so credentials come from secrets, not params.yaml."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(
                f"source {source.name!r}: the environment variable {name} (used in its {key}) is not set",
                where="collect.sources",
                hint=f"export {name}=... ; in CI map a repository secret to it: env: {name}: ${{{{ secrets.{name} }}}}",
            )
        return os.environ[name]

    return VARIABLE.sub(value, text)


def _shown(template: str, url: object) -> str:
    """How a URL is shown and recorded: the template when it names variables (their values stay secret)."""
    if VARIABLE.search(template):
        return template
    return url.render_as_string(hide_password=True) if hasattr(url, "render_as_string") else str(url)


# ---- SQL ---------------------------------------------------------------------


def read_sql(source: Source, project: Project) -> SourceData:
    import pandas as pd
    import sqlalchemy as sa

    from mlctl.io import frame_hash

    try:
        url = sa.engine.make_url(expand(str(source.url), source))
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"source {source.name!r}: not a SQLAlchemy URL: {exc}", where="collect.sources") from None
    shown = _shown(str(source.url), url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        db = Path(url.database)
        db = db if db.is_absolute() else project.path(db, what="SQLite database")
        if not db.is_file():  # sqlite would silently create an empty database
            raise InputNotFoundError(
                f"source {source.name!r}: SQLite database not found", where=str(db), hint="check the URL's path"
            )
        url = url.set(database=str(db))
    try:
        engine = sa.create_engine(url)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"source {source.name!r}: the database driver is not installed ({exc.name})",
            where=shown,
            hint=f"pip install {exc.name}",
        ) from None
    try:
        conn = engine.connect()
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        raise ExternalError(
            f"source {source.name!r}: cannot connect to the database: {first_line(getattr(exc, 'orig', None) or exc)}",
            where=shown,
            hint="check that the database is up and reachable from here, and the URL and its credentials "
            "(set them through ${VARIABLES} in collect.sources[].url)",
        ) from None
    try:
        with conn:
            frame = pd.read_sql(str(source.query), conn, **source.read_options)
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        while exc.__cause__ is not None:  # pandas wraps SQLAlchemy, which wraps the driver: say what the driver said
            exc = exc.__cause__
        reason = first_line(exc)
        raise ExternalError(
            f"source {source.name!r}: the SQL query failed: {reason}",
            where=shown,
            hint="check the query, the table names and the connection URL",
        ) from None
    finally:
        engine.dispose()
    digest = hashlib.sha256(f"{source.query}\n{frame_hash(frame)}".encode()).hexdigest()
    return SourceData(source.name, "sql", shown, frame, digest)


# ---- HTTP(S) -----------------------------------------------------------------


def read_http(source: Source, project: Project) -> SourceData:
    import urllib.error
    import urllib.parse
    import urllib.request

    from mlctl import __version__

    template = str(source.url)
    real = expand(template, source)
    url = template if VARIABLE.search(template) else real  # shown and recorded; the real one may hold a token
    parsed = urllib.parse.urlsplit(real)
    if parsed.scheme not in ("http", "https"):
        raise ConfigError(f"source {source.name!r}: only http(s) URLs can be downloaded", where=url)
    request = urllib.request.Request(real, headers={"User-Agent": f"mlctl/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=source.timeout) as response:
            body = response.read()
            content_type = response.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        raise ExternalError(
            f"source {source.name!r}: the server answered HTTP {exc.code} {exc.reason}",
            where=url,
            hint="check the URL",
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ExternalError(
            f"source {source.name!r}: cannot download: {reason}",
            where=url,
            hint="check the URL and that the server is reachable; raise the source's `timeout` for slow servers",
        ) from None
    if not body:
        raise DataError(f"source {source.name!r}: the server sent an empty body", where=url)
    fmt = _remote_format(parsed.path, content_type, body)
    frame = parse_table(body, fmt, dict(source.read_options), source.name, url)
    return SourceData(source.name, "http", url, frame, hashlib.sha256(body).hexdigest())


def _remote_format(path: str, content_type: str, body: bytes) -> str:
    """Parquet by its magic bytes, JSON lines by name or type, else CSV."""
    if body[:4] == b"PAR1":
        return "parquet"
    if path.lower().removesuffix(".gz").endswith((".jsonl", ".ndjson")) or "ndjson" in content_type:
        return "jsonl"
    return "csv"


# ---- scikit-learn ------------------------------------------------------------


def read_sklearn(source: Source, project: Project) -> SourceData:
    import sklearn
    from sklearn import datasets

    from mlctl.io import frame_hash

    name = str(source.dataset).removeprefix("load_")
    if name not in SKLEARN_DATASETS:
        raise ConfigError(
            f"source {source.name!r}: unknown scikit-learn dataset {source.dataset!r}",
            where="collect.sources",
            hint=f"use one of the bundled datasets {list(SKLEARN_DATASETS)} (fetch_* downloaders are not allowed)",
        )
    frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
    digest = hashlib.sha256(f"sklearn {sklearn.__version__} load_{name}\n{frame_hash(frame)}".encode()).hexdigest()
    return SourceData(source.name, "sklearn", f"sklearn.datasets.load_{name}", frame, digest)
