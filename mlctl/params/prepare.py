"""params.yaml `prepare:` — cleaning, date features and the split."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mlctl.core import artifacts as A
from mlctl.params.base import Section


class SplitParams(Section):
    """How rows are divided into train / validation / test."""

    method: Literal["random", "stratified", "group", "time"] = "stratified"
    test_size: float = Field(default=0.2, gt=0, lt=1)
    validation_size: float = Field(default=0.1, ge=0, lt=1)
    group_column: str | None = None
    time_column: str | None = None

    @model_validator(mode="after")
    def _check(self) -> SplitParams:
        if self.test_size + self.validation_size >= 1:
            raise ValueError("test_size + validation_size must be below 1")
        if self.method == "group" and not self.group_column:
            raise ValueError("split method 'group' needs group_column")
        if self.method == "time" and not self.time_column:
            raise ValueError("split method 'time' needs time_column")
        return self


class PrepareParams(Section):
    """Cleaning and splitting of data/raw into data/processed."""

    input: str = A.RAW_DATA
    output_dir: str = A.PROCESSED_DIR
    drop_duplicates: bool = True
    drop_columns: list[str] = Field(default_factory=list)
    date_columns: list[str] = Field(default_factory=list)  # parsed and expanded into parts
    date_parts: list[Literal["year", "month", "day", "dayofweek", "dayofyear", "hour"]] = Field(
        default_factory=lambda: ["year", "month", "dayofweek"]
    )
    split: SplitParams = Field(default_factory=SplitParams)
    eda_html: str = A.EDA_HTML
    eda_md: str = A.EDA_MD
    eda_max_rows: int = Field(default=50_000, ge=100)  # plots and associations use a sample this large
    eda_max_features: int = Field(default=40, ge=1)  # features that get a plot (strongest association first)
