"""Time windows of the current data: the start of each row's hour/day/week, and a window's counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

NO_TIME = np.iinfo(np.int64).min  # the bucket of rows without a (valid) timestamp
WINDOW_SECONDS = {"hour": 3600, "day": 86400}


@dataclass
class Window:
    """Counts of one time window."""

    rows: int = 0
    counts: dict[str, np.ndarray] = field(default_factory=dict)
    pred_counts: np.ndarray | None = None
    pred_sum: float = 0.0
    latency_sum: float = 0.0
    latency_rows: int = 0
    labelled: int = 0
    correct: int = 0  # classification
    abs_error: float = 0.0  # regression


def window_starts(timestamps: pd.Series, window: str) -> np.ndarray:
    """Epoch seconds (UTC) of the start of each row's window; NO_TIME where the time is missing."""
    import pandas as pd

    ts = pd.to_datetime(timestamps, utc=True, errors="coerce")
    secs = ts.to_numpy(dtype="datetime64[s]", na_value=np.datetime64("NaT")).astype("int64")
    if window == "week":  # weeks start on Monday; 1970-01-01 was a Thursday
        start = ((secs // 86400 + 3) // 7 * 7 - 3) * 86400
    else:
        step = WINDOW_SECONDS[window]
        start = secs // step * step
    start[ts.isna().to_numpy()] = NO_TIME
    return start
