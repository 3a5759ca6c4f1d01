"""The base class of every params.yaml section: typed, frozen, no unknown keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A frozen params section; unknown keys are errors (they are usually typos)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)
