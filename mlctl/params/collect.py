"""params.yaml `collect:` — where raw data comes from."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mlctl.core import artifacts as A
from mlctl.params.base import Section

SourceKind = Literal["csv", "parquet", "jsonl", "sql", "http", "sklearn"]


class Source(Section):
    """One raw-data source; ``kind`` is inferred from the other keys when omitted."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: SourceKind | None = None
    path: str | None = None  # a file path or glob, relative to the project root
    url: str | None = None  # SQLAlchemy URL for kind=sql, http(s) URL for kind=http
    query: str | None = None  # SQL query for kind=sql
    dataset: str | None = None  # scikit-learn dataset loader name for kind=sklearn
    read_options: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    timeout: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _kind_and_keys(self) -> Source:
        kind = self.kind or _infer_kind(self)
        need = {"csv": "path", "parquet": "path", "jsonl": "path", "sql": "query", "http": "url", "sklearn": "dataset"}
        if kind is None:
            raise ValueError(f"source {self.name!r}: give one of path, url+query, url or dataset (or set kind)")
        if getattr(self, need[kind]) is None:
            raise ValueError(f"source {self.name!r} of kind {kind!r} needs the key {need[kind]!r}")
        if kind == "sql" and not self.url:
            raise ValueError(f"source {self.name!r} of kind 'sql' needs a SQLAlchemy 'url'")
        object.__setattr__(self, "kind", kind)  # frozen model: settle the inferred kind once
        return self


def _infer_kind(src: Source) -> SourceKind | None:
    if src.query:
        return "sql"
    if src.dataset:
        return "sklearn"
    if src.url and src.url.startswith(("http://", "https://")):
        return "http"
    if src.path:
        from mlctl.core.fileio import TABLE_FORMATS

        for suffix, fmt in TABLE_FORMATS.items():
            if src.path.lower().removesuffix(".gz").endswith(suffix):
                return fmt  # type: ignore[return-value]
    return None


class CollectParams(Section):
    """How sources are gathered into data/raw/."""

    sources: list[Source] = Field(min_length=1)
    combine: Literal["concat", "join"] = "concat"
    join_on: list[str] = Field(default_factory=list)
    join_how: Literal["inner", "left", "outer"] = "inner"
    output: str = A.RAW_DATA
    manifest: str = A.RAW_MANIFEST

    @model_validator(mode="after")
    def _join_needs_keys(self) -> CollectParams:
        if self.combine == "join" and not self.join_on:
            raise ValueError("combine: join needs join_on (the key column or columns)")
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError(f"source names must be unique, got {names}")
        return self
