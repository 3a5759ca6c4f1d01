"""`mlctl gate`: decide whether the candidate model may ship, from the rules in `gate:`.

Every rule is recorded in reports/gate.json (passed, failed or skipped with the
reason), and the report is written before a rejection is raised, so CI and
people can always read why. A rule that cannot be checked for want of a
reference (no champion yet, no slices) is skipped, never silently passed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlctl.core.errors import ConfigError, GateRejectedError, InputNotFoundError
from mlctl.model.metrics import higher_is_better, metric_names
from mlctl.stages.gate.verdict import GateResult, Rule

if TYPE_CHECKING:
    from mlctl.core.progress import Progress
    from mlctl.core.project import Project
    from mlctl.params import Common
    from mlctl.params.gate import GateParams
    from mlctl.stages.gate.champion import Champion


def _skip(rule: str, metric: str | None, detail: str, limit: float | None = None) -> Rule:
    return Rule(rule, metric, None, limit, passed=True, skipped=True, detail=detail)


def _check_names(task: str, names: list[str], key: str) -> None:
    known = metric_names(task)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(
            f"unknown metric(s) {unknown} for {task}",
            where=f"params.yaml: {key}",
            hint=f"available metrics: {', '.join(known)}",
        )


def check_config(params: GateParams, task: str) -> None:
    """Refuse unknown metric names in any rule before anything is measured."""
    _check_names(task, list(params.thresholds), "gate.thresholds")
    _check_names(task, list(params.champion.metrics), "gate.champion.metrics")
    _check_names(task, list(params.slice_min), "gate.slice_min")
    _check_names(task, list(params.slice_max_drop), "gate.slice_max_drop")
    if params.primary_metric:
        _check_names(task, [params.primary_metric], "gate.primary_metric")


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4g}"


def primary_metric(params: GateParams, task: str, model: dict[str, Any]) -> str:
    """The configured primary metric, or roc_auc (f1 when roc_auc is undefined) / r2."""
    if params.primary_metric:
        _check_names(task, [params.primary_metric], "gate.primary_metric")
        return params.primary_metric
    if task == "regression":
        return "r2"
    return "roc_auc" if model.get("roc_auc") is not None else "f1"


def bound(metric: str, value: float | None, limit: float, *, at_least: bool, rule: str, what: str) -> Rule:
    """``value`` against ``limit``; ``at_least`` says which side passes. Undefined values fail."""
    if value is None:
        return Rule(rule, metric, None, limit, passed=False, detail=f"{metric} is undefined: cannot show {what}")
    passed = value >= limit if at_least else value <= limit
    op = ">=" if at_least else "<="
    return Rule(rule, metric, value, limit, passed, detail=f"{metric} {_fmt(value)} {op} {_fmt(limit)} ({what})")


def threshold_rules(params: GateParams, task: str, model: dict[str, Any]) -> list[Rule]:
    """Absolute bounds: ``thresholds: {metric: {min:, max:}}``."""
    _check_names(task, list(params.thresholds), "gate.thresholds")
    rules = []
    for metric, t in params.thresholds.items():
        if t.min is None and t.max is None:
            raise ConfigError(f"threshold for {metric} has neither min nor max", where=f"gate.thresholds.{metric}")
        if t.min is not None:
            rules.append(bound(metric, model.get(metric), t.min, at_least=True, rule="threshold", what="minimum"))
        if t.max is not None:
            rules.append(bound(metric, model.get(metric), t.max, at_least=False, rule="threshold", what="maximum"))
    return rules


def baseline_rule(params: GateParams, metric: str, model: dict[str, Any], baseline: dict[str, Any]) -> Rule:
    """The primary metric must beat the trivial baseline by ``baseline_margin``, in its direction."""
    base = baseline.get(metric)
    if base is None:
        return Rule("baseline", metric, model.get(metric), None, False, detail=f"baseline {metric} is undefined")
    up = higher_is_better(metric)
    limit = base + params.baseline_margin if up else base - params.baseline_margin
    what = f"baseline {_fmt(base)} {'+' if up else '-'} margin {params.baseline_margin:g}"
    return bound(metric, model.get(metric), limit, at_least=up, rule="baseline", what=what)


def champion_metrics(params: GateParams, task: str, primary: str) -> list[str]:
    """The metrics compared with the champion: ``gate.champion.metrics``, or the primary metric."""
    metrics = list(params.champion.metrics) or [primary]
    _check_names(task, metrics, "gate.champion.metrics")
    return metrics


def champion_rules(params: GateParams, task: str, primary: str, champion: Champion | None) -> list[Rule]:
    """No regression against the champion beyond ``tolerance``, judged on the same rows.

    The paired bootstrap interval of candidate − champion must stay above
    ``-tolerance`` for a score (below ``+tolerance`` for an error metric).
    """
    metrics = champion_metrics(params, task, primary)
    if champion is None:
        return [_skip("champion", m, "no champion configured (gate.champion.ref)") for m in metrics]
    if champion.reason is not None:
        return [_skip("champion", m, f"champion {champion.ref!r} skipped: {champion.reason}") for m in metrics]
    tol, rules = params.champion.tolerance, []
    who = f"{champion.ref}" + (f" = {champion.version}" if champion.version else "")
    who += f" ({(champion.commit or '')[:8]})"
    for m in metrics:
        pair = champion.paired[m]
        up = higher_is_better(m)
        limit = -tol if up else tol
        if pair["candidate"] is None:
            rules.append(Rule("champion", m, None, limit, False, detail=f"candidate {m} is undefined on the test rows"))
            continue
        if pair["champion"] is None or pair["low"] is None:
            rules.append(_skip("champion", m, f"champion {who}: {m} is undefined on the test rows", limit))
            continue
        edge = pair["low"] if up else pair["high"]
        passed = edge >= limit if up else edge <= limit
        detail = (
            f"on the same {champion.rows} test rows: candidate {_fmt(pair['candidate'])} vs champion "
            f"{_fmt(pair['champion'])} at {who}; candidate − champion {pair['difference']:+.4g}, "
            f"{pair['confidence']:.0%} paired CI [{_fmt(pair['low'])}, {_fmt(pair['high'])}] "
            f"{'>=' if up else '<='} {limit:+g} (tolerance)"
        )
        rules.append(Rule("champion", m, pair["difference"], limit, passed, detail=detail))
    return rules


def slice_rules(params: GateParams, task: str, slices: dict[str, Any] | None) -> list[Rule]:
    """``slice_min``: the worst evaluated slice must reach the bound (a ceiling for error metrics)."""
    _check_names(task, list(params.slice_min), "gate.slice_min")
    rules = []
    evaluated = (slices or {}).get("slices") or []
    for metric, limit in params.slice_min.items():
        scored = [(s, s["metrics"].get(metric)) for s in evaluated if s["metrics"].get(metric) is not None]
        if not scored:
            rules.append(_skip("slice", metric, "no evaluated slices with this metric (evaluate.slices)", limit))
            continue
        up = higher_is_better(metric)
        bad = [(s, v) for s, v in scored if (v < limit if up else v > limit)]
        worst_slice, worst = (min if up else max)(scored, key=lambda sv: sv[1])
        where = f"{worst_slice['column']}={worst_slice['value']}"
        detail = f"worst slice {where}: {_fmt(worst)} over {len(scored)} slices"
        if bad:
            detail += "; failing: " + ", ".join(f"{s['column']}={s['value']} ({_fmt(v)})" for s, v in bad)
        rules.append(Rule("slice", metric, worst, limit, not bad, detail=detail))
    return rules


def slice_drop_rules(params: GateParams, task: str, model: dict[str, Any], slices: dict[str, Any] | None) -> list[Rule]:
    """``slice_max_drop``: no evaluated slice may be worse than the overall metric by more than that fraction.

    0.1 on roc_auc 0.80 overall: every slice at least 0.72; 0.25 on rmse 2.0: every slice at most 2.5.

    Slices too small to judge (under ``evaluate.min_slice_size``) and slices where the
    metric is undefined are named in the detail, never failed.
    """
    _check_names(task, list(params.slice_max_drop), "gate.slice_max_drop")
    rules = []
    evaluated = (slices or {}).get("slices") or []
    small = [f"{s['column']}={s['value']} ({s['rows']} rows)" for s in (slices or {}).get("skipped") or []]
    too_small = f"; too small to judge: {', '.join(small)}" if small else ""
    for metric, drop in params.slice_max_drop.items():
        overall = model.get(metric)
        if overall is None:
            rules.append(_skip("slice_drop", metric, f"{metric} is undefined on the whole test split"))
            continue
        up = higher_is_better(metric)
        limit = overall - drop * abs(overall) if up else overall + drop * abs(overall)
        scored = [(s, s["metrics"].get(metric)) for s in evaluated if s["metrics"].get(metric) is not None]
        undefined = [f"{s['column']}={s['value']}" for s in evaluated if s["metrics"].get(metric) is None]
        note = too_small + (f"; {metric} undefined in: {', '.join(undefined)}" if undefined else "")
        if not scored:
            rules.append(_skip("slice_drop", metric, f"no slice large enough to judge (evaluate.slices){note}", limit))
            continue
        bad = [(s, v) for s, v in scored if (v < limit if up else v > limit)]
        worst_slice, worst = (min if up else max)(scored, key=lambda sv: sv[1])
        detail = (
            f"worst slice {worst_slice['column']}={worst_slice['value']}: {_fmt(worst)} vs {_fmt(overall)} overall, "
            f"{'at least' if up else 'at most'} {_fmt(limit)} ({drop:.0%} worse at most) over {len(scored)} slices"
        )
        if bad:
            detail += "; failing: " + ", ".join(f"{s['column']}={s['value']} ({_fmt(v)})" for s, v in bad)
        rules.append(Rule("slice_drop", metric, worst, limit, not bad, detail=detail + note))
    return rules


def fairness_rule(params: GateParams, slices: dict[str, Any] | None) -> list[Rule]:
    """The largest metric gap between groups of the sensitive column must stay under the bound."""
    limit = params.max_fairness_gap
    if limit is None:
        return []
    fairness = (slices or {}).get("fairness")
    if not fairness:
        return [_skip("fairness", None, "no sensitive column evaluated (evaluate.sensitive)", limit)]
    metric, gap = fairness["metric"], fairness.get("gap")
    if gap is None:
        return [_skip("fairness", metric, f"gap not measured: {fairness['reason']}", limit)]
    detail = (
        f"{metric} gap over {fairness['column']!r} (best group {fairness['best_group']!r}, "
        f"worst {fairness['worst_group']!r}): {_fmt(gap)} <= {_fmt(limit)}"
    )
    return [Rule("fairness", metric, gap, limit, gap <= limit, detail=detail)]


def useless_rule(params: GateParams, features: dict[str, Any] | None) -> list[Rule]:
    """``max_useless_features``: at most that many features whose importance interval includes 0."""
    limit = params.max_useless_features
    if limit is None:
        return []
    if not features or all(r.get("useless") is None for r in features.get("features", [])):
        return [_skip("useless_features", None, "no importance intervals (metrics/features.json, evaluate.bootstrap)")]
    useless = features["useless"]
    detail = f"{len(useless)} feature(s) whose {features['metric']} importance interval includes 0 <= {limit}"
    detail += f": {', '.join(useless)}" if useless else ""
    return [Rule("useless_features", features["metric"], len(useless), limit, len(useless) <= limit, detail=detail)]


def replay_rules(params: GateParams, project: Project) -> list[Rule]:
    """``replay``: the limits of `gate.replay` on reports/replay.json, when `mlctl replay` wrote one."""
    from mlctl.core.fileio import read_json
    from mlctl.stages.replay.breaches import judge

    limits = params.replay
    wanted = [
        m
        for m, v in (
            ("disagreement", limits.max_disagreement),
            ("new_rejects", limits.max_new_rejects),
            ("latency_ratio", limits.max_latency_ratio),
        )
        if v is not None
    ]
    path = project.path(limits.report, what="gate.replay.report")
    if not path.exists():
        why = f"no replay report ({project.rel(path)}): run `mlctl replay` on a request log"
        return [_skip("replay", m, why) for m in wanted]
    report = read_json(path)
    manifest = project.path(params.model_dir, what="model directory") / "model.json"
    replayed = (report.get("candidate") or {}).get("sha256")
    current = read_json(manifest).get("sha256") if manifest.exists() else None
    if current and replayed and current != replayed:
        why = f"{project.rel(path)} replayed model {replayed[:12]}, not this one ({current[:12]}): run `mlctl replay`"
        return [_skip("replay", m, why) for m in wanted]
    checks = judge(report, limits)
    return [Rule("replay", c["metric"], c["value"], c["limit"], c["passed"], c["skipped"], c["detail"]) for c in checks]


def decide(
    params: GateParams,
    task: str,
    evaluated: dict[str, Any],
    slices: dict[str, Any] | None,
    champion: Champion | None,
    measured: list[Rule] | None = None,
    features: dict[str, Any] | None = None,
) -> tuple[str, list[Rule]]:
    """The pure core: every rule from params against the evaluated metrics (plus measured size/latency rules)."""
    model, baseline = evaluated.get("model") or {}, evaluated.get("baseline") or {}
    primary = primary_metric(params, task, model)
    rules = threshold_rules(params, task, model)
    rules.append(baseline_rule(params, primary, model, baseline))
    rules += champion_rules(params, task, primary, champion)
    rules += slice_rules(params, task, slices)
    rules += slice_drop_rules(params, task, model, slices)
    rules += fairness_rule(params, slices)
    rules += useless_rule(params, features)
    return primary, [*rules, *(measured or [])]


def _card_champion(project: Project, card: str, report: dict[str, Any]) -> None:
    """Write the champion comparison into the model card `mlctl evaluate` wrote (no card: nothing to do)."""
    from mlctl.core.fileio import write_text
    from mlctl.stages.evaluate.model_card import with_champion

    path = project.path(card, what="model card")
    if path.exists():
        write_text(path, with_champion(path.read_text(encoding="utf-8"), report))


def run(params: GateParams, common: Common, project: Project, progress: Progress | None = None) -> GateResult:
    """Check every rule, write the report, and raise GateRejectedError if any rule failed."""
    from mlctl.core.fileio import read_json, write_json
    from mlctl.stages.gate.champion import judge
    from mlctl.stages.gate.checks import latency_rule, size_rule

    check_config(params, common.task)
    metrics_dir = project.path(params.metrics_dir, what="metrics directory")
    model_dir = project.path(params.model_dir, what="model directory")
    evaluate_file = metrics_dir / "evaluate.json"
    if not evaluate_file.exists():
        raise InputNotFoundError(
            "no evaluation metrics", where=project.rel(evaluate_file), hint="run `mlctl evaluate` first"
        )
    evaluated = read_json(evaluate_file)
    slices_file = metrics_dir / "slices.json"
    slices = read_json(slices_file) if slices_file.exists() else None
    train_file = model_dir / "train.json"
    info = read_json(train_file) if train_file.exists() else {}
    champion = None
    if params.champion.ref:
        primary = primary_metric(params, common.task, evaluated.get("model") or {})
        champion = judge(
            project,
            params.champion.ref,
            fallback=params.champion.fallback,
            metrics=champion_metrics(params, common.task, primary),
            model_dir=params.model_dir,
            data=params.data,
            resamples=params.champion.resamples,
            seed=common.seed,
        )
    measured = size_rule(params, model_dir / "model.skops")
    if params.max_latency_ms is not None:
        measured += latency_rule(params, project, model_dir, info, progress)
    features_file = metrics_dir / "features.json"
    features = read_json(features_file) if features_file.exists() else None
    measured += replay_rules(params, project)
    primary, rules = decide(params, common.task, evaluated, slices, champion, measured, features)

    failed = [f"{r.rule}:{r.metric}" if r.metric else r.rule for r in rules if not r.passed and not r.skipped]
    report_path = project.path(params.report, what="gate report")
    result = GateResult(
        passed=not failed,
        candidate=(info.get("best") or {}).get("candidate", "unknown"),
        primary_metric=primary,
        rules=rules,
        report=project.rel(report_path),
        model=project.rel(model_dir / "model.skops"),
        failed=failed,
        champion=champion.to_dict() if champion is not None else None,
    )
    write_json(report_path, result.to_dict())  # before raising: the report exists either way
    _card_champion(project, params.model_card, result.to_dict())
    if failed:
        raise GateRejectedError(
            f"{len(failed)} of {len(rules)} rule(s) failed: {', '.join(failed)}",
            report=result.to_dict(),
            where=project.rel(report_path),
            hint="see the report for each rule; improve the model or revise `gate:` in params.yaml",
        )
    return result
