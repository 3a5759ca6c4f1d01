"""The candidate's answers on logged rows against the champion's: agreement, slices, shift, rejects, latency.

Pure work over arrays: ``score`` runs the candidate over the logged inputs in chunks (validation as
`mlctl predict` and `mlctl serve` do it, mlctl.onnxmodel.runtime), the other functions compare.
The score shift uses the drift statistics of `mlctl monitor` (mlctl.data.drift) with the champion's
answers as the reference.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlctl.data import drift

if TYPE_CHECKING:
    import pyarrow as pa

    from mlctl.onnxmodel.runtime import OnnxModel

MISSING = "(missing)"
SAMPLE = 50_000  # values per side kept for the two-sample tests (PSI uses every row)


@dataclass
class Answers:
    """The candidate's answers on every logged row (rejected rows: ok False, code -1 / NaN, NaN scores)."""

    ok: np.ndarray
    reasons: dict[int, list[str]]
    labels: np.ndarray  # classification: index into the candidate's classes (-1: rejected); regression: float64
    probabilities: np.ndarray | None  # (n, k), NaN where rejected
    seconds: float  # wall time of validation + scoring


def columns_of(table: pa.Table, model: OnnxModel) -> dict[str, Any]:
    """The candidate's inputs as `mlctl predict` reads them (mlctl.batch.score.to_raw: floats, category codes)."""
    from mlctl.batch.score import to_raw

    return {s.name: to_raw(table.column(s.name), s.kind) for s in model.inputs}


def score(table: pa.Table, model: OnnxModel, chunk_rows: int, unknown: str) -> Answers:
    """Validate and score every row in chunks of ``chunk_rows``, as `mlctl predict` does."""
    n = table.num_rows
    ok = np.zeros(n, dtype=bool)
    reasons: dict[int, list[str]] = {}
    classification = model.task == "classification"
    labels = np.full(n, -1, dtype=np.int64) if classification else np.full(n, np.nan)
    classes = [str(c) for c in model.classes or []]
    k = len(classes)
    probabilities = None
    began = time.perf_counter()
    for start in range(0, n, chunk_rows):
        stop = min(n, start + chunk_rows)
        checked = model.check_columns(
            columns_of(table.slice(start, stop - start), model), stop - start, unknown=unknown
        )
        ok[start:stop] = checked.ok
        for i, why in checked.reasons.items():
            reasons[start + i] = why
        if not checked.ok.any():
            continue
        pred = model.predict_checked(checked)
        rows = start + np.flatnonzero(checked.ok)
        if not classification:
            labels[rows] = np.asarray(pred.labels, dtype=np.float64)
        elif model.label_codes:
            labels[rows] = pred.labels
        else:
            labels[rows] = codes_of(as_text(pred.labels), classes)[0]
        if pred.probabilities is not None and k:
            if probabilities is None:
                probabilities = np.full((n, k), np.nan)
            probabilities[rows] = pred.probabilities
    return Answers(ok, reasons, labels, probabilities, time.perf_counter() - began)


def champion_scores(table: pa.Table, class_keys: list[str] | None) -> np.ndarray | None:
    """The champion's logged class probabilities in the candidate's class order (None when not all logged)."""
    if not class_keys or any(f"proba_{c}" not in table.column_names for c in class_keys):
        return None
    cols = [table[f"proba_{c}"].to_numpy(zero_copy_only=False).astype(np.float64) for c in class_keys]
    return np.column_stack(cols)


def as_text(values: Any) -> Any:
    """Labels as an Arrow string array."""
    import pyarrow as pa

    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values, from_pandas=True)
    return arr.cast(pa.string())


def codes_of(column: Any, levels: list[str]) -> tuple[np.ndarray, list[str]]:
    """Codes of text labels (plain or dictionary-encoded Arrow) into ``levels``, extended by other labels (null: -1)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    index = {v: j for j, v in enumerate(levels)}
    extended = list(levels)
    parts = []
    for chunk in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
        if not pa.types.is_dictionary(chunk.type):
            chunk = chunk.cast(pa.string()).dictionary_encode()
        mapping = []
        for value in chunk.dictionary.cast(pa.string()).to_pylist():
            if value not in index:
                index[value] = len(extended)
                extended.append(value)
            mapping.append(index[value])
        mapping.append(-1)  # where the label is null
        codes = pc.fill_null(chunk.indices.cast(pa.int64()), -1).to_numpy(zero_copy_only=False)
        parts.append(np.asarray(mapping, dtype=np.int64)[codes])
    return (np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)), extended


def differences(task: str, champion: np.ndarray, answers: Answers, champ_proba, tolerance: float):
    """Per row: disagrees (bool, only rows the candidate answered) and the size of the difference.

    ``champion``: float64 values (regression) or codes into the same levels as the candidate's labels.
    """
    ok = answers.ok
    if task == "regression":
        gap = np.abs(answers.labels - champion)
        gap[~ok] = np.nan
        return ok & (gap > tolerance), gap
    disagrees = ok & (answers.labels != champion)
    if champ_proba is not None and answers.probabilities is not None:
        gap = np.nanmax(np.abs(answers.probabilities - champ_proba), axis=1, initial=0.0)
    else:
        gap = disagrees.astype(np.float64)
    gap = np.where(ok, gap, np.nan)
    return disagrees, gap


def slice_codes(column: Any, numeric: bool) -> tuple[np.ndarray, list[str]]:
    """A group per row (codes into names): the value (categorical) or its quartile interval (numeric)."""
    if not numeric:
        codes, names = codes_of(column, [])
        return np.where(codes < 0, len(names), codes), [str(v) for v in names] + [MISSING]
    x = column.to_numpy(zero_copy_only=False).astype(np.float64)
    edges = drift.bin_edges(x, 4)
    bounds = [-np.inf, *edges.tolist(), np.inf]
    names = [f"({bounds[i]:.4g}, {bounds[i + 1]:.4g}]" for i in range(len(bounds) - 1)] + [MISSING]
    return drift.numeric_codes(x, edges), names


def by_slice(
    codes: np.ndarray, names: list[str], answered: np.ndarray, disagrees: np.ndarray, limit: int
) -> list[dict[str, Any]]:
    """Rows, answered rows and the disagreement share per group, largest groups first."""
    k = len(names)
    rows = np.bincount(codes, minlength=k)
    compared = np.bincount(codes, weights=answered, minlength=k).astype(int)
    differ = np.bincount(codes, weights=disagrees, minlength=k).astype(int)
    order = [i for i in np.argsort(-rows, kind="stable") if rows[i]][:limit]
    return [
        {
            "value": names[i],
            "rows": int(rows[i]),
            "compared": int(compared[i]),
            "disagreements": int(differ[i]),
            "disagreement": (differ[i] / compared[i]) if compared[i] else None,
        }
        for i in order
    ]


def _sample(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return values if len(values) <= SAMPLE else rng.choice(values, SAMPLE, replace=False)


def numeric_shift(name: str, champ: np.ndarray, cand: np.ndarray, bins: int, th: drift.Thresholds, seed: int):
    """The drift of the candidate's scores from the champion's, as `mlctl monitor` measures a feature."""
    rng = np.random.default_rng(seed)
    ordered = np.sort(champ[np.isfinite(champ)])
    edges = drift.bin_edges(champ, bins, ordered=ordered)
    size = len(edges) + 2
    ref_counts = np.bincount(drift.numeric_codes(champ, edges), minlength=size)
    cur_counts = np.bincount(drift.numeric_codes(cand, edges), minlength=size)
    return drift.numeric_drift(name, _sample(champ, rng), _sample(cand, rng), ref_counts, cur_counts, th)


def label_shift(champ: np.ndarray, cand: np.ndarray, levels: list[str], th: drift.Thresholds):
    """The drift of the candidate's predicted labels from the champion's (codes into ``levels``, answered rows)."""
    k = len(levels) + 1  # the last bin: no label
    ref = np.bincount(np.where(champ < 0, k - 1, champ), minlength=k)
    cur = np.bincount(np.where(cand < 0, k - 1, cand), minlength=k)
    result = drift.categorical_drift("prediction", ref, cur, th)
    total_ref, total_cur = max(int(ref.sum()), 1), max(int(cur.sum()), 1)
    shares = {v: {"champion": ref[i] / total_ref, "candidate": cur[i] / total_cur} for i, v in enumerate(levels)}
    return result, shares


def time_rows(model: OnnxModel, table: pa.Table, calls: int, unknown: str) -> dict[str, float] | None:
    """Single-row ``run`` times in ms over the rows of ``table`` that ``model`` accepts (3 warm-up calls)."""
    checked = model.check_columns(columns_of(table, model), table.num_rows, unknown=unknown)
    feeds = {k: v[checked.ok] for k, v in checked.feeds.items()}
    n = int(checked.ok.sum())
    if n == 0:
        return None
    rows = [{k: v[i : i + 1] for k, v in feeds.items()} for i in range(min(n, calls))]
    for i in range(3):
        model.run(rows[i % len(rows)])
    times = []
    for i in range(calls):
        row = rows[i % len(rows)]
        start = time.perf_counter()
        model.run(row)
        times.append((time.perf_counter() - start) * 1000)
    return distribution(np.array(times))


def distribution(ms: np.ndarray) -> dict[str, float]:
    """Median, mean and tail percentiles of latencies in ms."""
    ms = ms[np.isfinite(ms)]
    if ms.size == 0:
        return {}
    p = np.percentile(ms, [50, 90, 95, 99])
    return {
        "calls": int(ms.size),
        "median_ms": float(statistics.median(ms.tolist())),
        "mean_ms": float(ms.mean()),
        "p90_ms": float(p[1]),
        "p95_ms": float(p[2]),
        "p99_ms": float(p[3]),
        "max_ms": float(ms.max()),
    }
