"""The 28 tests of the ML Test Score (Breck et al. 2017), each judged from a project's Context.

Each check returns (status, evidence, next step): ``automated`` (1 point) when
a stage the CI reproduces or a step of an automatically triggered workflow runs
it, ``manual`` (0.5) when it is available or done by hand only, ``missing`` (0).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlctl.stages.score.evidence import Context

AUTOMATED, MANUAL, MISSING = "automated", "manual", "missing"
POINTS = {AUTOMATED: 1.0, MANUAL: 0.5, MISSING: 0.0}
SECTIONS = ("Data", "Model", "Infrastructure", "Monitoring")
Verdict = tuple[str, str, str]  # status, evidence, what to do next ("" when nothing)


def _stage(ctx: Context, name: str, what: str, todo: str = "") -> Verdict:
    """Automated when the DVC stage exists and an automatic workflow reproduces the pipeline."""
    if not ctx.stage(name):
        return MISSING, f"no `{name}` stage in dvc.yaml", f"restore the `{name}` stage (`mlctl params sync`)"
    ci = ctx.pipeline_in_ci
    if ci:
        return AUTOMATED, f"dvc.yaml stage `{name}` {what}; {ci} reproduces the pipeline", todo
    return MANUAL, f"dvc.yaml stage `{name}` {what}; no automatic workflow reproduces it", "add ci.yml (`mlctl run`)"


def _monitored(ctx: Context, checks: list[str], what: str) -> Verdict:
    """Automated when a scheduled/triggered workflow runs `mlctl monitor` and the policy acts on the checks."""
    policy = ctx.params.monitor.policy.model_dump()
    acting = [c for c in checks if policy[c] != "ignore"]
    where = ctx.any_auto_runs(r"\bmlctl monitor\b")
    if not acting:
        return MANUAL, f"{what}: measured, but monitor.policy ignores {', '.join(checks)}", "set the policy to alert"
    rules = ", ".join(f"{c}: {policy[c]}" for c in acting)
    if where:
        return AUTOMATED, f"{what}; {where} runs `mlctl monitor` (monitor.policy {rules})", ""
    return MANUAL, f"{what} when `mlctl monitor` is run by hand (monitor.policy {rules})", "schedule it (ct.yml)"


# -- Data -----------------------------------------------------------------------------------------------


def d1(ctx: Context) -> Verdict:
    v = ctx.params.validate_
    if not (ctx.root / v.schema_path).exists():
        return MISSING, f"no schema at {v.schema_path}", "`mlctl schema infer`"
    return _stage(ctx, "validate", f"checks the data against {v.schema_path} and {v.profile_path}")


def d2(ctx: Context) -> Verdict:
    metrics = [next(iter(m)) if isinstance(m, dict) else m for m in ctx.stages.get("evaluate", {}).get("metrics", [])]
    if not any(str(m).endswith("features.json") for m in metrics):
        return MISSING, "evaluate writes no feature value (metrics/features.json)", "`mlctl params sync`"
    status, evidence, todo = _stage(ctx, "evaluate", "measures each feature's permutation importance with an interval")
    data = ctx.json(f"{ctx.params.evaluate.metrics_dir}/features.json")
    if data is not None:
        evidence += f"; candidates to drop now: {', '.join(data['useless']) or 'none'}"
    limit = ctx.params.gate.max_useless_features
    evidence += "; listed in the model card and the PR report" + (
        f"; gate.max_useless_features = {limit}" if limit is not None else ""
    )
    return status, evidence, todo


def d3(ctx: Context) -> Verdict:
    g = ctx.params.gate
    bounds = [
        f"gate.{k} = {v}" for k, v in (("max_latency_ms", g.max_latency_ms), ("max_model_mb", g.max_model_mb)) if v
    ]
    if bounds:
        return _stage(ctx, "gate", f"bounds the model's cost: {', '.join(bounds)}")
    where = ctx.any_auto_runs(r"\bmlctl bench\b")
    if where:
        return (
            MANUAL,
            f"{where} runs `mlctl bench` (latency in the PR report); no bound enforced",
            "gate.max_latency_ms",
        )
    return MISSING, "the model's cost is not measured", "run `mlctl bench` in CI; set gate.max_latency_ms"


def _new_columns_stop(ctx: Context, found: str) -> Verdict:
    """No column listed: the control is validate's strict schema (a new column stops the pipeline until reviewed)."""
    schema = ctx.params.validate_.schema_path
    what = f"fails on any column not in {schema} (schema skew), so no new column becomes a feature unreviewed; {found}"
    return _stage(ctx, "validate", what)


def d4(ctx: Context) -> Verdict:
    banned = [*ctx.params.validate_.personal_data, *ctx.params.train.forbidden]
    if not banned:
        return _new_columns_stop(ctx, "init found no personal-data or forbidden column")
    what = f"refuses the listed columns as features (validate.personal_data, train.forbidden: {', '.join(banned)})"
    return _stage(ctx, "train", what)


def d5(ctx: Context) -> Verdict:
    personal = ctx.params.validate_.personal_data
    if not personal:
        return _new_columns_stop(ctx, "init found no personal data; the request log holds model inputs only")
    what = f"never feeds {', '.join(personal)} to the model, so serving never logs them (the log holds model inputs)"
    return _stage(ctx, "train", what)


def d6(ctx: Context) -> Verdict:
    return _stage(ctx, "train", "retrains from params.yaml: a feature is a params or data change, evaluated and gated")


def d7(ctx: Context) -> Verdict:
    what = "feature code is mlctl's (prepare, the model's preprocessing), tested by mlctl's own suite"
    if ctx.stage("export"):
        what += "; export checks ONNX against scikit-learn on the test split"
    return MANUAL, what + "; the project tests none of its own", "add tests of custom feature code, if any"


# -- Model ----------------------------------------------------------------------------------------------


def m1(ctx: Context) -> Verdict:
    if not ((ctx.root / "params.yaml").exists() and (ctx.root / "dvc.yaml").exists()):
        return MISSING, "no params.yaml / dvc.yaml", "`mlctl init`"
    where = ctx.any_auto_runs(r"\bmlctl params check\b")
    if where and ctx.any_auto_runs(r"\bmlctl report\b"):
        return AUTOMATED, f"params.yaml and dvc.yaml in git; {where} runs `mlctl params check` and the PR report", ""
    return MANUAL, "params.yaml and dvc.yaml in git, reviewed by hand", "run `mlctl params check` and report in CI"


def m2(ctx: Context) -> Verdict:
    return _monitored(ctx, ["decay"], "the metric on labelled current rows is compared with metrics/evaluate.json")


def m3(ctx: Context) -> Verdict:
    t = ctx.params.train
    sizes = {}
    for name in t.candidates:
        grid = 1
        for values in t.spaces.get(name, {}).values():
            grid *= max(len(values), 1)
        sizes[name] = grid if t.search.method in ("grid", "halving", "halving_grid") else min(grid, t.search.n_iter)
    tried = sum(sizes.values())
    if tried <= len(t.candidates):
        return MANUAL, f"one configuration per candidate ({', '.join(t.candidates)}): no search", "widen train.spaces"
    what = f"searches {tried} configurations ({t.search.method}, {t.search.cv}-fold CV)"
    return _stage(ctx, "train", what)


def m4(ctx: Context) -> Verdict:
    s = ctx.params.evaluate.staleness
    if not s.time_column:
        return MISSING, "no time column: staleness is not measured", "set evaluate.staleness.time_column"
    data = ctx.json(f"{ctx.params.evaluate.metrics_dir}/staleness.json")
    if data is not None and not data.get("enabled"):
        return MANUAL, f"evaluate.staleness is set but the curve was not measured: {data.get('reason')}", ""
    status, evidence, todo = _stage(ctx, "evaluate", f"refits the model k periods back on `{s.time_column}`")
    if data is not None:
        evidence += f"; maximum age {data['max_age_days']:g} days (metrics/staleness.json)"
    return status, evidence, todo


def m5(ctx: Context) -> Verdict:
    margin = ctx.params.gate.baseline_margin
    return _stage(ctx, "gate", f"rejects a model not beating the dummy baseline by {margin:g}")


def m6(ctx: Context) -> Verdict:
    e, g = ctx.params.evaluate, ctx.params.gate
    if not e.slices:
        return MISSING, "no slices (evaluate.slices)", "list low-cardinality columns in evaluate.slices"
    rules = {**g.slice_min, **g.slice_max_drop}
    if not rules:
        return MANUAL, f"slices {', '.join(e.slices)} are scored but not gated", "set gate.slice_max_drop"
    return _stage(ctx, "gate", f"gates slices of {', '.join(e.slices)} ({', '.join(rules)})")


def m7(ctx: Context) -> Verdict:
    e, g = ctx.params.evaluate, ctx.params.gate
    if not e.sensitive:
        return MISSING, "no protected attribute (evaluate.sensitive)", "set evaluate.sensitive"
    if g.max_fairness_gap is None:
        return MANUAL, f"the gap over `{e.sensitive}` is measured, not gated", "set gate.max_fairness_gap"
    return _stage(ctx, "gate", f"bounds the metric gap over `{e.sensitive}` at {g.max_fairness_gap:g}")


# -- Infrastructure -------------------------------------------------------------------------------------


def i1(ctx: Context) -> Verdict:
    if not ctx.stage("train"):
        return MISSING, "no train stage", ""
    return (
        MANUAL,
        f"seed {ctx.params.seed} in params.yaml and dvc.lock pin every input; no run compares two trainings",
        "retrain twice in CI and compare",
    )


def i2(ctx: Context) -> Verdict:
    if not ctx.tests:
        return MISSING, "the project has no tests", "tests/ checking params.yaml and dvc.yaml"
    where = ctx.any_auto_runs(r"\bpytest\b")
    names = ", ".join(ctx.tests[:3]) + (f" and {len(ctx.tests) - 3} more" if len(ctx.tests) > 3 else "")
    if where:
        return AUTOMATED, f"{names} check the model's specification; {where} runs pytest", ""
    return MANUAL, f"{names} exist, run by hand", "run pytest in ci.yml"


def i3(ctx: Context) -> Verdict:
    return _stage(ctx, "export", "ends the pipeline collect → … → export; all of it runs on each pull request")


def i4(ctx: Context) -> Verdict:
    status, evidence, todo = _stage(ctx, "gate", "must pass before export (export depends on reports/gate.json)")
    where = ctx.auto_runs("cd", r"\bmlctl gate\b")
    return status, evidence + ("; cd.yml checks the gate again before the release" if where else ""), todo


def i5(ctx: Context) -> Verdict:
    return MANUAL, "`mlctl explain` steps one example through the pipeline and the ONNX model, by hand", ""


def i6(ctx: Context) -> Verdict:
    if ctx.auto_runs("cd", r"--shadow\b") and ctx.auto_runs("cd", r"\bmlctl replay\b"):
        return (
            AUTOMATED,
            "cd.yml serves the candidate in shadow beside the champion, runs `mlctl replay` on the logged traffic "
            "and promotes only if the replay gate passes",
            "",
        )
    if ctx.auto_runs("cd", r"\bmlctl smoke\b"):
        return AUTOMATED, "cd.yml starts the image's service and runs `mlctl smoke` before promoting", ""
    return MANUAL, "`mlctl smoke URL` checks a deployed service, by hand", "add cd.yml (`mlctl init` writes it)"


def i7(ctx: Context) -> Verdict:
    ref = ctx.params.gate.champion.ref or ""
    promoted = ctx.auto_runs("cd", r"\bmlctl registry promote\b")
    if promoted and "@" in ref:
        return (
            AUTOMATED,
            f"cd.yml promotes versions in the registry; every gate fetches `{ref}` from the DVC remote and scores it "
            "(the version a rollback restores is retrievable); `mlctl registry rollback` moves the stage back",
            "",
        )
    return MANUAL, "`mlctl registry rollback` moves a stage back, by hand", "promote through cd.yml"


# -- Monitoring -----------------------------------------------------------------------------------------


def mo1(ctx: Context) -> Verdict:
    where = ctx.any_auto_runs(r"\bmlctl report\b")
    if where:
        return AUTOMATED, f"{where} runs `mlctl report`: packages at training vs installed, source fingerprints", ""
    return MANUAL, "`mlctl report` compares package versions, by hand", "run it in ci.yml"


def mo2(ctx: Context) -> Verdict:
    training = ctx.stage("validate") and ctx.pipeline_in_ci
    status, evidence, todo = _monitored(
        ctx, ["data_quality", "value_skew"], "serving inputs are checked against the schema and profile"
    )
    if training:
        return status, f"training data: dvc.yaml stage `validate`; {evidence}", todo
    return MANUAL if status == AUTOMATED else status, f"training data not validated in CI; {evidence}", todo


def mo3(ctx: Context) -> Verdict:
    status, evidence, todo = _stage(
        ctx, "export", f"checks ONNX = scikit-learn (tolerance {ctx.params.export.tolerance:g})"
    )
    policy = ctx.params.monitor.policy.skew
    return status, evidence + f"; served predictions are recomputed by `mlctl monitor` (policy skew: {policy})", todo


def mo4(ctx: Context) -> Verdict:
    m = ctx.params.monitor
    if m.staleness:
        curve = ctx.json(m.staleness) or {}
        age = f"{curve['max_age_days']:g} days from the staleness curve" if curve.get("max_age_days") else m.staleness
    else:
        age = f"{m.max_model_age_days:g} days (monitor.max_model_age_days)"
    return _monitored(ctx, ["staleness"], f"a model older than {age} is flagged")


def mo5(ctx: Context) -> Verdict:
    return _monitored(ctx, ["numerical_health"], "NaN/inf predictions and probabilities are counted")


def mo6(ctx: Context) -> Verdict:
    where = ctx.any_auto_runs(r"\bmlctl bench\b")
    bound = ctx.params.gate.max_latency_ms
    if where:
        extra = f"; gate.max_latency_ms = {bound:g}" if bound else ""
        return AUTOMATED, f"{where} runs `mlctl bench`; the PR report compares latency with the base{extra}", ""
    if bound:
        return _stage(ctx, "gate", f"bounds single-row latency at {bound:g} ms")
    return MISSING, "latency and throughput are not measured", "run `mlctl bench` in ci.yml"


def mo7(ctx: Context) -> Verdict:
    return _monitored(ctx, ["decay", "prediction_drift"], "prediction drift and decay on current data are measured")


TESTS: list[tuple[str, str, str, Callable[[Context], Verdict]]] = [
    ("D1", "Data", "Feature expectations are captured in a schema", d1),
    ("D2", "Data", "All features are beneficial", d2),
    ("D3", "Data", "No feature's cost is too much", d3),
    ("D4", "Data", "Features adhere to meta-level requirements", d4),
    ("D5", "Data", "The data pipeline has appropriate privacy controls", d5),
    ("D6", "Data", "New features can be added quickly", d6),
    ("D7", "Data", "All input feature code is tested", d7),
    ("M1", "Model", "Model specs are reviewed and submitted", m1),
    ("M2", "Model", "Offline and online metrics correlate", m2),
    ("M3", "Model", "All hyperparameters have been tuned", m3),
    ("M4", "Model", "The impact of model staleness is known", m4),
    ("M5", "Model", "A simpler model is not better", m5),
    ("M6", "Model", "Model quality is sufficient on important data slices", m6),
    ("M7", "Model", "The model is tested for considerations of inclusion", m7),
    ("I1", "Infrastructure", "Training is reproducible", i1),
    ("I2", "Infrastructure", "Model specs are unit tested", i2),
    ("I3", "Infrastructure", "The ML pipeline is integration tested", i3),
    ("I4", "Infrastructure", "Model quality is validated before serving", i4),
    ("I5", "Infrastructure", "The model is debuggable", i5),
    ("I6", "Infrastructure", "Models are canaried before serving", i6),
    ("I7", "Infrastructure", "Serving models can be rolled back", i7),
    ("Mo1", "Monitoring", "Dependency changes result in notification", mo1),
    ("Mo2", "Monitoring", "Data invariants hold for training and serving inputs", mo2),
    ("Mo3", "Monitoring", "Training and serving features compute the same values", mo3),
    ("Mo4", "Monitoring", "Models are not too stale", mo4),
    ("Mo5", "Monitoring", "Models are numerically stable", mo5),
    ("Mo6", "Monitoring", "Computing performance has not regressed", mo6),
    ("Mo7", "Monitoring", "Prediction quality has not regressed", mo7),
]
