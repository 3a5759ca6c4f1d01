"""A fixed-size uniform sample of a stream of rows, mergeable chunk by chunk."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


class Reservoir:
    """A uniform sample of at most ``k`` rows of a stream: keep the k smallest random keys."""

    def __init__(self, k: int, rng: np.random.Generator):
        self.k, self.rng = k, rng
        self.frame: pd.DataFrame | None = None
        self.keys = np.empty(0)

    def offer(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions (and keys) of the next ``n`` stream rows that may enter; most are refused unseen."""
        keys = self.rng.random(n)
        if len(self.keys) >= self.k:
            idx = np.flatnonzero(keys < self.keys.max())
            return idx, keys[idx]
        return np.arange(n), keys

    def add(self, frame: pd.DataFrame, keys: np.ndarray) -> None:
        """Merge the offered rows (``frame``, built only for them) and keep the k smallest keys."""
        import pandas as pd

        if not len(frame):
            return
        frame = frame.reset_index(drop=True)
        if self.frame is not None:
            frame = pd.concat([self.frame, frame], ignore_index=True)
            keys = np.concatenate([self.keys, keys])
        if len(keys) > self.k:
            idx = np.argpartition(keys, self.k - 1)[: self.k]
            frame, keys = frame.take(idx).reset_index(drop=True), keys[idx]
        self.frame, self.keys = frame, keys
