"""`train.search.budget_s`: no draw starts after the budget, the report counts draws; progress per draw."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from test_train import project, train_at

from mlctl.core.project import Project
from mlctl.params import parse_params
from mlctl.stages.train import run
from mlctl.stages.train.search import planned_fits


class Recorder:
    """mlctl.core.progress.Progress that remembers what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def start(self, description: str, total: float | None = None) -> None:
        self.events.append(("start", (description, total)))

    def advance(self, amount: float = 1) -> None:
        self.events.append(("advance", amount))

    def done(self) -> None:
        self.events.append(("done", None))


SPACES = {
    "logistic_regression": {"C": [0.01, 0.1, 1.0, 10.0]},
    "random_forest": {"n_estimators": [5, 10], "max_depth": [2, 3]},
}


@pytest.mark.parametrize("method", ["random", "halving_random", "grid"])
def test_budget_zero_runs_only_each_candidates_first_draw(tmp_path, method):
    root = project(
        tmp_path,
        n=300,
        candidates=["logistic_regression", "random_forest"],
        spaces=SPACES,
        search={"method": method, "n_iter": 4, "budget_s": 0},
    )
    report = train_at(root).report
    assert [c["draws"] for c in report["candidates"]] == [1, 1]
    assert all(c["skipped_for_budget"] >= 3 for c in report["candidates"])  # 4 settings each, 1 ran
    assert report["search"]["budget_s"] == 0
    assert report["search"]["draws"] == 2 and report["search"]["skipped_for_budget"] >= 6
    assert all(c["n_fits"] == 2 for c in report["candidates"])  # one draw x cv=2
    results = pd.read_csv(root / "models" / "search_results.csv")
    assert len(results) == 2
    assert (root / "models" / "model.skops").exists()  # the winner of what ran is refit and saved


def test_no_budget_runs_every_draw_and_a_large_one_changes_nothing(tmp_path):
    reports = []
    for budget in (None, 3600):
        root = project(
            tmp_path / str(budget),
            n=300,
            candidates=["logistic_regression", "random_forest"],
            spaces=SPACES,
            search={"n_iter": 4, "budget_s": budget},
        )
        reports.append(train_at(root).report)
    for report in reports:
        assert [c["draws"] for c in report["candidates"]] == [4, 4]
        assert report["search"]["skipped_for_budget"] == 0
    assert reports[0]["best"] == reports[1]["best"]


def test_progress_names_each_candidate_and_advances_per_draw(tmp_path):
    root = project(
        tmp_path,
        n=300,
        candidates=["logistic_regression", "random_forest"],
        spaces=SPACES,
        search={"n_iter": 3, "n_jobs": 2},
    )
    params = parse_params(yaml.safe_load((root / "params.yaml").read_text()))
    bar = Recorder()
    run(params.train, params.common, Project(root), progress=bar)
    starts = [value for kind, value in bar.events if kind == "start"]
    assert starts[0] == ("[1/2] logistic_regression (6 fits)", 6)
    assert starts[1] == ("[2/2] random_forest (6 fits)", 6)
    # between the two starts: the first draw alone (2 fits), then chunks of two draws (the workers)
    first = bar.events.index(("start", starts[0]))
    second = bar.events.index(("start", starts[1]))
    steps = [value for kind, value in bar.events[first:second] if kind == "advance"]
    assert steps == [2, 4]


def test_planned_fits_for_halving_counts_its_rounds():
    from mlctl.params.train import SearchParams

    search = SearchParams(method="halving_random", n_iter=9, cv=3)
    # 9 settings, then 3, then 1 (scikit-learn's factor 3): 1 + log3(9) rounds
    assert planned_fits({"a": list(range(10))}, search, 1000) == (9 + 3 + 1) * 3
    six = SearchParams(method="halving_random", n_iter=6, cv=3)
    assert planned_fits({"a": list(range(10))}, six, 1000) == (6 + 2) * 3
    assert planned_fits({"a": [1, 2]}, SearchParams(method="random", n_iter=5, cv=3)) == 6


def test_negative_budget_is_refused():
    from mlctl.core.errors import ConfigError

    sources = {"sources": [{"name": "d", "path": "d.csv"}]}
    with pytest.raises(ConfigError, match=r"train\.search\.budget_s"):
        parse_params({"target": "y", "task": "regression", "collect": sources, "train": {"search": {"budget_s": -1}}})


@pytest.mark.parametrize("n_iter", [2, 3, 6, 9])
def test_planned_halving_fits_match_what_scikit_learn_runs(tmp_path, n_iter):
    root = project(
        tmp_path,
        n=600,
        candidates=["random_forest"],
        spaces={"random_forest": {"n_estimators": [5, 6, 7], "max_depth": [2, 3, 4]}},
        search={"method": "halving_random", "n_iter": n_iter, "cv": 2},
    )
    report = train_at(root).report
    search = parse_params(yaml.safe_load((root / "params.yaml").read_text())).train.search
    assert report["candidates"][0]["n_fits"] == planned_fits({"a": list(range(9))}, search, 420)


def test_a_search_with_its_budget_and_progress_pickles_for_the_workers(tmp_path):
    import pickle
    import threading

    from sklearn.linear_model import LogisticRegression

    from mlctl.params.train import SearchParams
    from mlctl.stages.train.budget import Budget
    from mlctl.stages.train.search import make_search

    class Unpicklable(Recorder):
        lock = threading.Lock()  # like a live progress bar: a lock and threads

        def __init__(self) -> None:
            super().__init__()
            self.held = threading.Lock()

    obj = make_search(
        LogisticRegression(), {"C": [1.0, 2.0]}, SearchParams(), "roc_auc", 2, 0, Budget(None, Unpicklable())
    )
    copy = pickle.loads(pickle.dumps(obj))
    assert type(copy).__name__ == "RandomizedSearchCV" and not hasattr(copy, "budget")
