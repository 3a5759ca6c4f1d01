"""Property-based tests of the split strategies (mlctl.stages.prepare.split) with hypothesis."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mlctl.core.errors import DataError
from mlctl.stages.prepare.split import Split, group_split, part_sizes, random_split, stratified_split, time_split

FAST = settings(max_examples=50, deadline=None)

test_sizes = st.floats(0.05, 0.5)
val_sizes = st.one_of(st.just(0.0), st.floats(0.05, 0.4))
seeds = st.integers(0, 2**32 - 1)


def assert_partition(split: Split, n: int, validation_size: float) -> None:
    """Disjoint, covering every row exactly once; train and test (and validation if asked) non-empty."""
    joined = np.concatenate([split.train, split.validation, split.test])
    assert np.array_equal(np.sort(joined), np.arange(n))
    assert len(split.train) > 0 and len(split.test) > 0
    assert (len(split.validation) > 0) == (validation_size > 0)


@FAST
@given(n=st.integers(1, 300), t=test_sizes, v=val_sizes, seed=seeds)
def test_random_split_is_a_partition(n, t, v, seed):
    assume(t + v < 0.95)
    needed = 3 if v > 0 else 2
    if n < needed:
        with pytest.raises(DataError):
            random_split(n, t, v, seed)
        return
    split = random_split(n, t, v, seed)
    assert_partition(split, n, v)
    assert abs(len(split.test) - n * t) <= 1 or len(split.test) == 1


@FAST
@given(
    counts=st.lists(st.integers(1, 60), min_size=2, max_size=5),
    t=test_sizes,
    v=val_sizes,
    seed=seeds,
)
def test_stratified_split_keeps_class_proportions(counts, t, v, seed):
    assume(t + v < 0.9)
    labels = np.repeat([f"c{i}" for i in range(len(counts))], counts)
    labels = np.random.default_rng(seed).permutation(labels)  # classes interleaved in row order
    n_parts = 3 if v > 0 else 2
    if min(counts) < n_parts:
        with pytest.raises(DataError, match="per class"):
            stratified_split(labels, t, v, seed)
        return
    split = stratified_split(labels, t, v, seed)
    assert_partition(split, len(labels), v)
    wanted = {"train": 1 - t - v, "validation": v, "test": t}
    for i, k in enumerate(counts):
        for name, rows in split.parts().items():
            got = np.sum(labels[rows] == f"c{i}")
            # rounding plus "at least one row per part": off by at most two rows per class
            assert abs(got / k - wanted[name]) <= 2 / k + 1e-9
            if wanted[name] > 0:
                assert got >= 1


@FAST
@given(
    sizes=st.lists(st.integers(1, 15), min_size=1, max_size=40),
    t=test_sizes,
    v=val_sizes,
    seed=seeds,
    with_missing=st.booleans(),
)
def test_group_split_never_shares_a_group(sizes, t, v, seed, with_missing):
    assume(t + v < 0.9)
    groups = np.repeat(np.arange(len(sizes)), sizes).astype(object)
    if with_missing:
        groups[groups == 0] = None  # missing group ids form one group of their own
    groups = np.random.default_rng(seed).permutation(groups)
    n_parts = 3 if v > 0 else 2
    if len(sizes) < n_parts:
        with pytest.raises(DataError, match="groups"):
            group_split(groups, t, v, seed)
        return
    split = group_split(groups, t, v, seed)
    assert_partition(split, len(groups), v)
    seen = [{str(g) for g in groups[rows]} for rows in split.parts().values()]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])


@FAST
@given(
    times=st.lists(st.integers(-1000, 1000), min_size=3, max_size=200),
    t=test_sizes,
    v=val_sizes,
)
def test_time_split_keeps_order(times, t, v):
    assume(t + v < 0.95)
    times = np.asarray(times)
    if len(times) < 3 and v > 0:
        return
    split = time_split(times, t, v)
    assert_partition(split, len(times), v)
    parts = [times[p] for p in (split.train, split.validation, split.test) if len(p)]
    for earlier, later in itertools.pairwise(parts):
        assert earlier.max() <= later.min()
    for p in parts:
        assert np.all(np.diff(p) >= 0)  # rows inside a part are in time order


@FAST
@given(n=st.integers(9, 200), seed=seeds)
def test_same_seed_same_split(n, seed):
    labels = np.arange(n) % 3
    for make in (
        lambda s: random_split(n, 0.2, 0.1, s),
        lambda s: stratified_split(labels, 0.34, 0.33, s),
        lambda s: group_split(np.arange(n) // 2, 0.2, 0.1, s),
    ):
        a, b = make(seed), make(seed)
        for x, y in zip(a.parts().values(), b.parts().values(), strict=True):
            assert np.array_equal(x, y)


@FAST
@given(n=st.integers(100, 400), seed=seeds, other=seeds)
def test_different_seed_different_split(n, seed, other):
    assume(seed != other)
    labels = np.arange(n) % 2
    groups = np.arange(n) // 3  # 33+ groups: the chance of the same assignment is negligible
    for make in (
        lambda s: random_split(n, 0.2, 0.1, s),
        lambda s: stratified_split(labels, 0.2, 0.1, s),
        lambda s: group_split(groups, 0.2, 0.1, s),
    ):
        assert not np.array_equal(make(seed).test, make(other).test)


def test_part_sizes_round_and_reserve_one_row():
    assert part_sizes(10, 0.2, 0.1) == (7, 1, 2)
    assert part_sizes(3, 0.01, 0.01) == (1, 1, 1)
    assert part_sizes(10, 0.2, 0.0) == (8, 0, 2)
    with pytest.raises(DataError, match="too few"):
        part_sizes(2, 0.2, 0.1)
