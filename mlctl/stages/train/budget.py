"""The search's time budget: draws handed to scikit-learn a few at a time, none started after the deadline.

``budgeted(cls)`` is a scikit-learn search class whose ``_run_search`` evaluates
its settings through a ``Budget``; the Budget counts what ran and moves the
progress bar after each chunk.
"""

from __future__ import annotations

import functools
import inspect
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlctl.params.train import SearchParams


def workers(search: SearchParams) -> int:
    """How many fits run at once: draws are handed to scikit-learn in chunks this size."""
    from joblib import effective_n_jobs

    if search.backend == "dask":
        return search.dask_workers
    return effective_n_jobs(search.n_jobs)


class Budget:
    """The search's time budget: no draw starts after ``deadline``; it counts what ran.

    Draws are handed to scikit-learn a few at a time (as many as there are
    workers; the first draw of each candidate alone), so the budget is checked
    between them and the progress bar moves after each. The first draw of a
    candidate always runs, so every candidate has a score.
    """

    def __init__(self, deadline: float | None, progress: Any = None, workers: int = 1):
        self.deadline = deadline
        self.progress = progress
        self.workers = max(1, workers)
        self.draws = 0  # settings cross-validated (a halving round's settings each count)
        self.fits = 0
        self.skipped = 0  # settings not started because the budget was spent
        self._first = True

    def start_candidate(self) -> None:
        """A new candidate: its first draw runs whatever the clock says."""
        self._first = True

    def spent(self) -> bool:
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def wrap(self, evaluate: Any, n_splits: int) -> Any:
        """``evaluate_candidates`` of a scikit-learn search, evaluated in budget-checked chunks."""
        last: dict[str, Any] = {}

        def evaluate_in_chunks(candidate_params: Any, cv: Any = None, more_results: Any = None, **kw: Any) -> Any:
            settings = list(candidate_params)
            if "callback_ctx" in kw:  # scikit-learn's callbacks number fits per call: chunks would collide
                kw["callback_ctx"] = None
            start = 0
            while start < len(settings):
                if not self._first and self.spent():
                    self.skipped += len(settings) - start
                    break
                size = 1 if self._first else self.workers
                part = slice(start, start + size)
                extra = {k: list(v)[part] for k, v in more_results.items()} if more_results else None
                last["results"] = evaluate(settings[part], cv, more_results=extra, **kw)
                done = len(settings[part])
                self._first = False
                self.draws += done
                self.fits += done * n_splits
                if self.progress is not None:
                    self.progress.advance(done * n_splits)
                start += size
            return last["results"]

        return evaluate_in_chunks


@functools.cache
def budgeted(cls: type) -> type:
    """``cls`` (a scikit-learn search class) evaluating its draws through its ``budget``."""

    class Budgeted(cls):  # type: ignore[misc, valid-type]
        budget: Budget

        def _run_search(self, evaluate_candidates: Any, **kw: Any) -> None:
            super()._run_search(self.budget.wrap(evaluate_candidates, self.n_splits_), **kw)

        def __getstate__(self) -> dict[str, Any]:
            # scikit-learn sends the search (caller=self) to its workers: never the progress bar with it
            state = dict(super().__getstate__())
            state.pop("budget", None)
            return state

    # scikit-learn passes keywords (callback_ctx...) only when _run_search's signature names them
    Budgeted._run_search.__signature__ = inspect.signature(cls._run_search)  # type: ignore[attr-defined]
    Budgeted.__name__ = cls.__name__
    Budgeted.__qualname__ = f"Budgeted{cls.__name__}"  # pickled by reference: see __getattr__ below
    Budgeted.__module__ = __name__
    return Budgeted


def __getattr__(name: str) -> Any:
    """``Budgeted<SearchClass>``: built on first use, so a worker process can unpickle a search."""
    if name.startswith("Budgeted") and name.endswith("SearchCV"):
        from sklearn import model_selection
        from sklearn.experimental import enable_halving_search_cv  # noqa: F401 - enables the Halving classes

        return budgeted(getattr(model_selection, name.removeprefix("Budgeted")))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
