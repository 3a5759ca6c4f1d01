"""params.yaml for a new project, from the inferred task and column roles, with comments saying why."""

from __future__ import annotations

from typing import Any

from mlctl.stages.init.roles import DATES, DROP, FORBIDDEN, PERSONAL, ColumnRole, TargetInfo
from mlctl.stages.init.sizing import LARGE_DATA, MAX_MODEL_MB, plan_search

THRESHOLD_MARGIN = 0.05  # the gate's floor above what a guess scores
BASELINE_MARGIN = 0.02  # the candidate must beat the dummy baseline by this much
SMALL_DATA = 20_000  # below this many rows, process start-up costs more than parallel folds save
MAX_SLICES = 2
SLICE_LEVELS = (2, 10)  # a slice column has between 2 and 10 levels
MIN_SLICE_ROWS = 50  # smaller slices are reported by the gate, not judged: their metric is too noisy
REGISTRY_NAME = "model"  # the name the project's README registers and promotes the model under
CHAMPION_TOLERANCE = 0.01


def _flow(value: Any) -> str:
    """A YAML scalar or a one-line list/mapping."""
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def _with_comment(line: str, comment: str | None, column: int = 40) -> str:
    if not comment:
        return line
    return f"{line.ljust(column - 1)} # {comment}"


def _listed(key: str, roles: list[ColumnRole], indent: str) -> list[str]:
    """A block list of column names, each with its reason as a comment."""
    if not roles:
        return [f"{indent}{key}: []"]
    lines = [f"{indent}{key}:"]
    lines += [_with_comment(f"{indent}  - {_flow(r.name)}", r.reason) for r in roles]
    return lines


def gate_thresholds(target: TargetInfo) -> tuple[dict[str, dict[str, float]], str]:
    """Absolute floors set from what a guess scores, and the comment explaining them."""
    if target.task == "regression":
        floor = round(0.0 + THRESHOLD_MARGIN, 4)
        return {"r2": {"min": floor}}, f"predicting the mean scores r2 = 0: demand at least {THRESHOLD_MARGIN}"
    if target.n_classes <= 2:
        floor = round(0.5 + THRESHOLD_MARGIN, 4)
        return {"roc_auc": {"min": floor}}, f"a random ranking scores roc_auc 0.5: demand at least {floor}"
    floor = round(1 / target.n_classes + THRESHOLD_MARGIN, 4)
    return (
        {"balanced_accuracy": {"min": floor}},
        f"guessing among {target.n_classes} classes scores balanced_accuracy {1 / target.n_classes:.2f}",
    )


def scoring(target: TargetInfo) -> tuple[str, str]:
    """The search's scoring and why."""
    if target.task == "regression":
        return "neg_root_mean_squared_error", "root mean squared error (sklearn maximises its negative)"
    if target.n_classes <= 2:
        if target.imbalanced:
            return "roc_auc", f"imbalanced target (minority {target.minority_share:.0%}): rank quality, not accuracy"
        return "roc_auc", "binary target: rank quality, independent of the decision threshold"
    if target.imbalanced:
        return "f1_macro", f"{target.n_classes} imbalanced classes: every class counts equally"
    return "f1_macro", f"{target.n_classes} classes: every class counts equally"


def split(target: TargetInfo) -> tuple[str, str]:
    """The split method and why."""
    if target.task == "regression":
        return "random", "a numeric target: a shuffled random split"
    if target.min_class_count < 10:
        return "random", f"the rarest class has {target.min_class_count} rows: too few to stratify"
    share = f" (minority class {target.minority_share:.0%})" if target.minority_share is not None else ""
    return "stratified", f"keeps the class shares{share} equal in train, validation and test"


def slice_gate(target: TargetInfo) -> tuple[dict[str, float], str]:
    """How much worse than overall any slice may be, in the metric that suits the task."""
    if target.task == "regression":
        return {"rmse": 0.3}, "no slice's rmse more than 30% above the overall rmse"
    if target.n_classes <= 2:
        return {"roc_auc": 0.1}, "no slice's roc_auc more than 10% below the overall roc_auc"
    return {"balanced_accuracy": 0.2}, "no slice's balanced_accuracy more than 20% below overall"


FAIRNESS_GAP = 0.2  # the largest recall gap between groups of the protected attribute


def sensitive(roles: list[ColumnRole], fairness: bool = True) -> ColumnRole | None:
    """The protected attribute whose groups the fairness gap compares.

    The first named with --sensitive, else the first found with few enough groups; none with --no-sensitive.
    """
    if not fairness:
        return None
    low, high = SLICE_LEVELS
    named = [r for r in roles if r.sensitive]
    return named[0] if named else next((r for r in roles if r.role == "protected" and low <= r.n_unique <= high), None)


def slices(roles: list[ColumnRole]) -> list[str]:
    """A few low-cardinality categorical features, scored per level by evaluate."""
    low, high = SLICE_LEVELS
    chosen = [r.name for r in roles if r.where is None and r.kind == "categorical" and low <= r.n_unique <= high]
    return chosen[:MAX_SLICES]


def _staleness(dates: list[ColumnRole]) -> list[str]:
    """evaluate.staleness on the first date column: the metric against model age, in months."""
    if not dates:
        return ["  # staleness: {time_column: COLUMN}     # no date column found: name one to measure staleness"]
    return [
        "  staleness:                            # the metric of a model refitted k periods back, on the newest period",
        _with_comment(f"    time_column: {_flow(dates[0].name)}", "a date column: periods of 1-12 months"),
        _with_comment(f"    tolerance: {CHAMPION_TOLERANCE}", "as the gate's champion tolerance"),
    ]


def render(
    *,
    target_name: str,
    target: TargetInfo,
    roles: list[ColumnRole],
    source_name: str,
    source_path: str,
    remote: dict[str, str] | None = None,
    rows: int,
    seed: int = 42,
    quick: bool = False,
    fairness: bool = True,
    large_rows: int = LARGE_DATA,
) -> str:
    """The whole params.yaml as commented text (validated by the caller with mlctl.params.parse_params).

    ``large_rows``: from this many rows on, the search is the one for large data (mlctl.stages.init.sizing).
    """
    drop = [r for r in roles if r.where == DROP]
    forbidden = [r for r in roles if r.where == FORBIDDEN]
    personal = [r for r in roles if r.where == PERSONAL]
    dates = [r for r in roles if r.where == DATES]
    many = [r for r in roles if r.role == "high_cardinality" and r.where is None]
    task = target.task
    search = plan_search(task, rows, quick=quick, large_rows=large_rows)
    method, split_why = split(target)
    metric, metric_why = scoring(target)
    thresholds, threshold_why = gate_thresholds(target)
    features = [r for r in roles if not r.excluded]
    excluded = drop + forbidden + personal
    lines = [
        f"# mlctl project parameters, written by `mlctl init` from {source_path} ({rows:,} rows).",
        "# One section per stage: the key is the stage's name in dvc.yaml and its `mlctl <stage>` command.",
        "# `mlctl params check` validates this file; `mlctl params show` prints every key with its default.",
        "# Every choice below was inferred from the data: the comments say why. Change what you disagree with.",
        f"seed: {seed}",
        _with_comment(f"target: {_flow(target_name)}", "the column the model predicts"),
        _with_comment(f"task: {task}", target.reason),
        "",
    ]
    if excluded:
        lines.append("# excluded: columns that are not model features (remove a name from its list to use it):")
        width = max(len(r.name) for r in excluded)
        lines += [f"#   {r.name.ljust(width)}  {r.where:<20}  {r.reason}" for r in excluded]
        lines.append("")
    lines += [
        "collect:",
        "  sources:",
        f"    - name: {_flow(source_name)}",
        *(
            [_with_comment(f"      path: {_flow(source_path)}", "tracked by DVC (the .dvc file is in git)")]
            if remote is None
            else [
                _with_comment(f"      url: {_flow(remote['url'])}", "${NAME}: from the environment (a CI secret)"),
                *([f"      query: {_flow(remote['query'])}"] if "query" in remote else []),
            ]
        ),
        "",
        "validate:",
        _with_comment("  schema_path: data/schema.yaml", "inferred by `mlctl init`: review it"),
        "  profile_path: data/profile.json",
        "  # columns holding personal data: never model features, marked in the schema",
        *_listed("personal_data", personal, "  "),
        "",
        "prepare:",
        *_listed("drop_columns", drop, "  "),
        *_listed("date_columns", dates, "  "),
        "  split:",
        _with_comment(f"    method: {method}", split_why),
        "    test_size: 0.2",
        "    validation_size: 0.1",
        "",
        "train:",
        _with_comment(f"  candidates: {_flow(search.candidates)}", search.why["candidates"]),
        _with_comment("  spaces:", search.why["spaces"]),
    ]
    for name in search.candidates:
        lines.append(f"    {name}:")
        lines += [f"      {key}: {_flow(values)}" for key, values in search.spaces[name].items()]
    lines += [
        "  search:",
        _with_comment(f"    method: {search.method}", search.why.get("method")),
        _with_comment(f"    n_iter: {search.n_iter}", "draws per candidate: raise it for a wider search"),
        f"    cv: {search.cv}",
        _with_comment(f"    scoring: {metric}", metric_why),
        _with_comment(
            f"    n_jobs: {1 if rows < SMALL_DATA else -1}",
            "small data: one process is fastest" if rows < SMALL_DATA else "every core",
        ),
        _with_comment(f"    budget_s: {search.budget_s:g}", search.why.get("budget_s")),
    ]
    if many:
        names = ", ".join(f"{r.name} ({r.n_unique} levels)" for r in many)
        lines += [
            "  preprocess:",
            _with_comment("    max_categories: 30", f"rarer levels grouped as infrequent: {names}"),
        ]
    lines += _listed("forbidden", forbidden, "  ")
    lines += [
        "",
        "evaluate:",
        _with_comment(f"  slices: {_flow(slices(roles))}", "categorical features scored per level"),
        _with_comment(f"  min_slice_size: {MIN_SLICE_ROWS}", "smaller slices are reported, not judged"),
        *(
            [_with_comment(f"  sensitive: {_flow(attribute.name)}", attribute.reason.split(";")[0])]
            if (attribute := sensitive(roles, fairness))
            else [
                "  # sensitive: COLUMN                   # no protected attribute found: name one to measure fairness"
            ]
        ),
        *(["  bootstrap: 20                         # --quick: few resamples", "  permutation_repeats: 1"] * quick),
        *_staleness(dates),
        "",
        "gate:",
        "  thresholds:",
    ]
    for name, bound in thresholds.items():
        lines.append(_with_comment(f"    {name}: {_flow(bound)}", threshold_why))
    lines += [
        _with_comment(f"  baseline_margin: {BASELINE_MARGIN}", "must beat the dummy baseline by this much"),
        _with_comment(f"  max_model_mb: {MAX_MODEL_MB}", "models/model.skops and the exported ONNX model"),
        "  champion:                             # the model this one would replace, scored on the same test rows",
        _with_comment(f"    ref: {REGISTRY_NAME}@prod", f"`mlctl registry promote {REGISTRY_NAME} latest prod`"),
        _with_comment("    fallback: main", "until a version is in prod: the model on the default branch"),
        _with_comment(f"    tolerance: {CHAMPION_TOLERANCE}", "paired CI of candidate - champion must stay above this"),
    ]
    if sensitive(roles, fairness) and task == "classification":
        lines.append(
            _with_comment(f"  max_fairness_gap: {FAIRNESS_GAP}", "recall may differ this much between its groups")
        )
    drops, drop_why = slice_gate(target)
    if slices(roles):
        lines.append(_with_comment(f"  slice_max_drop: {_flow(drops)}", drop_why))
    if dates:
        lines += [
            "",
            "monitor:",
            _with_comment(
                "  staleness: metrics/staleness.json", "the maximum model age: where evaluate's staleness curve drops"
            ),
        ]
    lines += [
        "",
        "export:",
        _with_comment("  tolerance: 0.0001", "ONNX must match scikit-learn this closely"),
        "",
        _with_comment("predict:", "batch scoring: the `predict` stage scores the test split"),
        "  input: data/processed/test.parquet",
        "  output: data/predictions/test.parquet",
        "",
        _with_comment("bundle:", "the edge bundle under dist/"),
        "  output_dir: dist",
        "",
    ]
    if not features:  # unreachable through init (it refuses), kept as a guard for direct callers
        raise ValueError("no feature columns left")
    return "\n".join(lines)
