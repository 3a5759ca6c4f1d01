"""params.yaml `validate:` — schema file and value-skew tolerances."""

from __future__ import annotations

from pydantic import Field

from mlctl.core import artifacts as A
from mlctl.params.base import Section


class ValidateParams(Section):
    """Where the schema and reference profile live, and how much value skew is tolerated."""

    input: str = A.RAW_DATA
    schema_path: str = A.SCHEMA
    profile_path: str = A.PROFILE
    report: str = A.VALIDATION_REPORT
    # Value skew against the reference profile: reported always, failing only above these.
    max_null_rate_increase: float = Field(default=0.10, ge=0, le=1)
    max_unseen_category_share: float = Field(default=0.05, ge=0, le=1)
    max_out_of_range_share: float = Field(default=0.05, ge=0, le=1)
    max_distribution_shift: float = Field(default=0.25, ge=0, le=1)  # PSI-like score per column
    fail_on_value_skew: bool = True
    # Columns holding personal data: never model features (train refuses them).
    personal_data: list[str] = Field(default_factory=list)
    unique: list[str] = Field(default_factory=list)  # columns declared unique
    # Schema inference: a text column with at most this many levels gets an allowed-values check.
    max_categories: int = Field(default=50, ge=1)
    histogram_bins: int = Field(default=10, ge=2, le=100)  # reference histogram for the shift score
