"""The model card (reports/model_card.md): data, model, metrics, slices, fairness, use and limits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlctl.model.metrics import higher_is_better, metric_names

if TYPE_CHECKING:
    from mlctl.core.project import Project
    from mlctl.params.evaluate import EvaluateParams
    from mlctl.stages.evaluate.result import EvaluateResult

SPLITS = ("train", "validation", "test")
# the champion section is written by `mlctl gate` (it scores the champion on the candidate's rows) between these
CHAMPION_START = "<!-- champion: written by `mlctl gate` -->"
CHAMPION_END = "<!-- /champion -->"


def split_summary(project: Project, params: EvaluateParams, info: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows and target balance of each split file that exists (only the target column is read)."""
    from mlctl.core.fileio import read_table

    summary = []
    for split in dict.fromkeys([*SPLITS, params.split]):
        path = project.path(f"{params.input_dir}/{split}.parquet", what="split file")
        if not path.exists():
            continue
        target = read_table(path, columns=[info["target"]])[info["target"]].dropna()
        if info["task"] == "classification":
            shares = target.astype("string").value_counts(normalize=True).sort_index()
            balance = ", ".join(f"{k}: {v:.1%}" for k, v in shares.items())
        else:
            balance = f"mean {target.mean():.4g}, std {target.std():.4g}" if len(target) else "-"
        summary.append({"split": split, "rows": len(target), "balance": balance})
    return summary


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _metrics_table(result: EvaluateResult) -> list[str]:
    lines = ["| metric | model | 95% CI | baseline | better |", "|---|---|---|---|---|"]
    for name in metric_names(result.task):
        ci = result.intervals.get(name, {})
        interval = f"[{_fmt(ci.get('low'))}, {_fmt(ci.get('high'))}]" if ci.get("low") is not None else "n/a"
        lines.append(
            f"| {name} | {_fmt(result.metrics['model'][name])} | {interval} | "
            f"{_fmt(result.metrics['baseline'][name])} | {'higher' if higher_is_better(name) else 'lower'} |"
        )
    undefined = result.undefined["model"]
    if undefined:
        lines += ["", *[f"- `{name}` is undefined: {why}." for name, why in undefined.items()]]
    return lines


def _slices(result: EvaluateResult) -> list[str]:
    data = result.slices
    if not data["slices"] and not data["skipped"]:
        return ["No slices configured (`evaluate.slices`)."]
    shown = metric_names(result.task)[:5]
    lines = [f"| column | value | rows | {' | '.join(shown)} |", "|---|---|---|" + "---|" * len(shown)]
    for s in data["slices"]:
        cells = " | ".join(_fmt(s["metrics"][m]) for m in shown)
        lines.append(f"| {s['column']} | {s['value']} | {s['rows']} | {cells} |")
    if data["skipped"]:
        skipped = ", ".join(f"{s['column']}={s['value']} ({s['rows']} rows)" for s in data["skipped"])
        lines += ["", f"Skipped (fewer than {data['min_slice_size']} rows): {skipped}."]
    return lines


def _fairness(result: EvaluateResult) -> list[str]:
    f = result.fairness
    if f is None:
        return ["No sensitive column configured (`evaluate.sensitive`): the fairness gap was not measured."]
    groups = ", ".join(f"{k}: {_fmt(v)} ({f['rows'][k]} rows)" for k, v in f["groups"].items())
    lines = [f"Sensitive column `{f['column']}`, metric `{f['metric']}` per group: {groups or 'none'}."]
    if f["gap"] is None:
        lines.append(f"Gap not measured: {f['reason']}.")
    else:
        lines.append(
            f"**Largest gap: {f['gap']:.4f}** (best group {f['best_group']!r}, worst group {f['worst_group']!r})."
        )
    return lines


def _sampled(result: EvaluateResult) -> list[str]:
    """The measurements made on a seeded sample of the split, with the sample's size."""
    used = result.sampling or {}
    what = {
        "bootstrap_rows": "the intervals resample {n:,} rows at a time, rescaled to all {rows:,} (m-out-of-n)",
        "importance_rows": "permutation importance is measured on a seeded sample of {n:,} rows",
        "confusion_rows": "the confusion plot holds a seeded sample of {n:,} rows",
    }
    return [f"- Sampled: {what[k].format(n=used[k], rows=used['rows'])}." for k in used.get("capped", [])]


def _use_and_limits(result: EvaluateResult, info: dict[str, Any], params: EvaluateParams) -> list[str]:
    feature_names = [f["name"] for f in info["features"]]
    what = (
        f"classify `{info['target']}` into {', '.join(map(repr, info.get('classes') or []))}"
        if result.task == "classification"
        else f"estimate `{info['target']}`"
    )
    lines = [
        f"- Intended use: {params.intended_use or f'to {what} from {len(feature_names)} tabular features'}, "
        "as decision support on data like the training data.",
        f"- Inputs: {', '.join(f'`{n}`' for n in feature_names)}.",
        f"- Measured on {result.rows} rows of the `{result.split}` split; the intervals are {params.bootstrap}-"
        "resample bootstrap percentiles and do not cover data drift after training.",
    ]
    lines += _sampled(result)
    if params.sensitive:
        if params.sensitive in feature_names:
            lines.append(
                f"- The sensitive column `{params.sensitive}` **is a model input**: review that this is lawful."
            )
        else:
            lines.append(
                f"- The sensitive column `{params.sensitive}` is excluded from the features; "
                "other inputs may still act as proxies for it (see the fairness gap)."
            )
    if result.slices["skipped"]:
        lines.append("- Slices with few rows were not evaluated: the model is untested on them.")
    lines += [f"- Note: {n}." for n in result.notes]
    return lines


def champion_section(gate: dict[str, Any] | None) -> list[str]:
    """Both models' scores on the candidate's test rows and the paired interval, from reports/gate.json."""
    lines = [CHAMPION_START, "## Champion on the same rows", ""]
    champ = (gate or {}).get("champion")
    if gate is None:
        lines.append("Not compared yet: `mlctl gate` scores the champion on these test rows and writes this section.")
    elif champ is None:
        lines.append("No champion configured (`gate.champion.ref`): the candidate was not compared with a champion.")
    elif champ.get("reason"):
        lines.append(f"Champion `{champ['ref']}` not compared: {champ['reason'].rstrip('.')}.")
    else:
        version = f" = `{champ['version']}`" if champ.get("version") else ""
        commit = f" (commit `{champ['commit'][:12]}`)" if champ.get("commit") else ""
        lines += [
            f"- Champion: `{champ['ref']}`{version}{commit}",
            f"- Scored on the same {champ['rows']} test rows (sha256 `{(champ.get('rows_sha256') or '')[:16]}`)",
            "",
            "| metric | candidate | champion | candidate − champion | paired CI |",
            "|---|---|---|---|---|",
        ]
        for metric, pair in champ.get("paired", {}).items():
            diff = pair.get("difference")
            ci = f"[{_fmt(pair.get('low'))}, {_fmt(pair.get('high'))}]" if pair.get("low") is not None else "n/a"
            lines.append(
                f"| {metric} | {_fmt(pair.get('candidate'))} | {_fmt(pair.get('champion'))} | "
                f"{'n/a' if diff is None else f'{diff:+.4f}'} | {ci} ({pair.get('confidence', 0.95):.0%}, "
                f"{pair.get('resamples')} resamples) |"
            )
        rules = [r for r in gate.get("rules", []) if r.get("rule") == "champion"]
        lines += ["", *[f"- Gate: {'passed' if r['passed'] else 'FAILED'}: {r['detail']}" for r in rules]]
    return [*lines, CHAMPION_END]


def with_champion(card: str, gate: dict[str, Any] | None) -> str:
    """``card`` with its champion section replaced by the one for ``gate`` (appended when it has none)."""
    section = "\n".join(champion_section(gate))
    start, end = card.find(CHAMPION_START), card.find(CHAMPION_END)
    if start < 0 or end < start:
        return card.rstrip("\n") + "\n\n" + section + "\n"
    return card[:start] + section + card[end + len(CHAMPION_END) :]


def render(result: EvaluateResult, info: dict[str, Any], splits: list[dict[str, Any]], params: EvaluateParams) -> str:
    """The model card as Markdown."""
    from mlctl.stages.evaluate import staleness, usefulness
    from mlctl.stages.evaluate.result import generated_at

    best = info.get("best") or {}
    lines = [
        f"# Model card: {info['target']} ({result.task})",
        "",
        f"Generated {generated_at()} by `mlctl evaluate`.",
        "",
        "## Data",
        "",
        f"- Data hash: `{info.get('data_hash', 'unknown')}`",
        "",
        "| split | rows | target balance |",
        "|---|---|---|",
        *[f"| {s['split']} | {s['rows']} | {s['balance']} |" for s in splits],
        "",
        "## Model",
        "",
        f"- Candidate: `{best.get('candidate', 'unknown')}`",
        f"- Best parameters: `{best.get('params', {})}`",
        f"- Cross-validated score: {_fmt(best.get('cv_score'))}",
        f"- Seed: {info.get('seed', 'unknown')}",
        "",
        f"## Metrics on `{result.split}` (model vs baseline)",
        "",
        *_metrics_table(result),
        "",
        *champion_section(None),
        "",
        "## Slices",
        "",
        *_slices(result),
        "",
        "## Fairness",
        "",
        *_fairness(result),
        "",
        "## Feature value",
        "",
        *usefulness.card(result.feature_value),
        "",
        "## Staleness",
        "",
        *staleness.card(result.staleness or staleness.off("not measured")),
        "",
        "## Intended use and limits",
        "",
        *_use_and_limits(result, info, params),
        "",
    ]
    return "\n".join(lines)
