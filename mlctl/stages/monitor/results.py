"""reports/monitor.{json,md,html}: the same findings for machines, for an issue or PR, and for people."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mlctl.render import format_value, markdown_table

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.core.project import Project
    from mlctl.params.monitor import MonitorParams

DRIFT_COLUMNS = ["feature", "kind", "test", "statistic", "p_value", "psi", "null_ref", "null_cur", "drifted"]
VERDICT_TEXT = {
    "ok": "no drift or decay",
    "drift": "drift: retraining advised",
    "decay": "performance decay: retraining advised",
}


def write_reports(report: dict, extras: dict, params: MonitorParams, project: Project) -> dict[str, str]:
    """Write the three reports atomically; returns their project-relative paths."""
    from mlctl.core.fileio import write_json, write_text

    paths = {
        "json": project.path(params.report_json, what="report"),
        "md": project.path(params.report_md, what="report"),
        "html": project.path(params.report_html, what="report"),
    }
    html = render_html(report, extras, params)  # the slow part first: nothing is written if it fails
    write_json(paths["json"], report)
    write_text(paths["md"], render_markdown(report))
    write_text(paths["html"], html)
    return {k: project.rel(v) for k, v in paths.items()}


def drift_frame(report: dict) -> pd.DataFrame:
    import pandas as pd

    rows = report["drift"]["features"] + ([report["prediction_drift"]] if report.get("prediction_drift") else [])
    frame = pd.DataFrame(rows, columns=DRIFT_COLUMNS)
    frame["drifted"] = frame["drifted"].map({True: "yes", False: "no"})
    return frame


def windows_frame(report: dict) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for w in report["windows"]:
        row = {"start": w["start"] or "(no time)", "rows": w["rows"], "drift_share": w.get("drift_share")}
        if "prediction_shares" in w:
            row.update({f"pred {k}": v for k, v in w["prediction_shares"].items()})
        if "prediction_mean" in w:
            row["prediction_mean"] = w["prediction_mean"]
        if "latency_ms_mean" in w:
            row["latency_ms"] = w["latency_ms_mean"]
        if "metric" in w:
            row[w["metric"]] = w["metric_value"]
        rows.append(row)
    return pd.DataFrame(rows)


def _kv(items: dict[str, Any]) -> str:
    return "\n".join(f"- **{k}**: {format_value(v)}" for k, v in items.items()) + "\n"


def render_markdown(report: dict) -> str:
    """A Markdown summary for an issue or pull request."""
    d, perf, skew, stale, cur = (
        report["drift"],
        report["performance"],
        report["skew"],
        report["staleness"],
        report["current"],
    )
    lines = [
        f"# Model monitoring: {report['verdict']}",
        "",
        f"**Verdict: {VERDICT_TEXT[report['verdict']]}** — retraining advised: "
        f"**{'yes' if report['retrain_advised'] else 'no'}**",
        "",
        f"Model `{report['model']['name']}` version `{report['model']['version']}`; "
        f"current data `{cur['path']}` ({cur['rows']} rows); reference `{report['reference']['path']}` "
        f"({report['reference']['rows']} rows).",
        "",
    ]
    for title, items in (("Reasons", report["reasons"]), ("Alerts", report["alerts"])):
        if items:
            lines += [f"## {title}", "", *[f"- {x}" for x in items], ""]
    lines += [
        "## Data drift",
        "",
        f"{d['features_drifted']} of {d['features_tested']} features drifted "
        f"(share {d['drift_share']:.2f}, dataset drift at ≥ {d['drift_share_threshold']:.2f}).",
        "",
        markdown_table(drift_frame(report)),
        "## Performance",
        "",
    ]
    if "metrics" in perf:
        lines.append(
            _kv(
                {
                    "labelled rows": perf["labelled_rows"],
                    "primary metric": perf["primary_metric"],
                    "current": perf["current"],
                    "evaluated": perf.get("reference"),
                    "change": perf.get("change"),
                    "decay": "yes" if perf["decay"] else "no",
                }
            )
        )
    if perf.get("note"):
        lines += [f"_{perf['note']}_", ""]
    lines += ["## Training/serving skew", ""]
    lines.append(
        _kv({k: skew[k] for k in ("rows", "disagreement_share", "max_abs_diff", "skew") if k in skew})
        if skew.get("checked")
        else f"_{skew.get('note', 'not checked')}_\n"
    )
    q = report["quality"]
    lines += ["## Data quality", "", _kv({"invalid rows": q["invalid_rows"], "invalid share": q["invalid_share"]})]
    if q["reasons"]:
        lines += ["", *[f"- `{k}`: {v}" for k, v in q["reasons"].items()], ""]
    if q["missing_features"]:
        lines += [f"Missing features: {', '.join(q['missing_features'])}", ""]
    lines += [
        "## Staleness and health",
        "",
        _kv({**{k: stale[k] for k in ("created", "age_days", "stale")}, **report["health"]}),
    ]
    if report["windows"]:
        lines += [f"## Over time (per {report['window']})", "", markdown_table(windows_frame(report))]
    return "\n".join(lines)


def render_html(report: dict, extras: dict, params: MonitorParams) -> str:
    """A self-contained HTML page with the plots."""
    import pandas as pd

    from mlctl.render.htmlpage import HtmlReport

    cur = report["current"]
    page = HtmlReport(
        f"Model monitoring: {VERDICT_TEXT[report['verdict']]}",
        f"model {report['model']['name']} {report['model']['version']} · {cur['path']} ({cur['rows']} rows)",
    )
    page.heading("Summary").key_values(
        {
            "verdict": report["verdict"],
            "retrain advised": "yes" if report["retrain_advised"] else "no",
            "drift share": report["drift"]["drift_share"],
            "decay": "yes" if report["performance"].get("decay") else "no",
            "model age (days)": report["staleness"]["age_days"],
        }
    )
    for text in report["reasons"] + report["alerts"]:
        page.note(text)
    page.heading("Data drift").table(drift_frame(report), "per-feature tests (and the predictions)")
    page.figure(_psi_figure(report, params), "PSI per feature (red: drifted)")
    acc, ref = extras.get("accumulator"), extras.get("reference")
    drifted = [r["feature"] for r in report["drift"]["features"] if r["drifted"]]
    if drifted and acc is not None:
        shown = drifted[: params.max_plots]
        page.heading("Distributions of drifted features", 3)
        page.figures([(_distribution(name, acc, ref), name) for name in shown])
        if len(drifted) > len(shown):
            page.note(f"showing {len(shown)} of {len(drifted)} drifted features (monitor.max_plots)")
    perf = report["performance"]
    page.heading("Performance")
    if "metrics" in perf:
        page.table(pd.DataFrame([{"metric": k, "current": v} for k, v in perf["metrics"].items()]))
    if perf.get("note"):
        page.note(perf["note"])
    page.heading("Skew, quality, staleness")
    page.key_values({k: v for k, v in report["skew"].items() if not isinstance(v, dict)}, "training/serving skew")
    q = report["quality"]
    page.key_values({"invalid rows": q["invalid_rows"], **q["reasons"]}, "data quality")
    page.table(pd.DataFrame(q["features"]), "null rates, unseen categories and out-of-range values")
    page.key_values({**report["staleness"], **report["health"]}, "staleness and numerical health")
    if report["windows"]:
        page.heading(f"Over time (per {report['window']})")
        page.figure(_windows_figure(report), "figures per time window")
        page.table(windows_frame(report))
    return page.render()


def _psi_figure(report: dict, params: MonitorParams):
    import pandas as pd

    from mlctl.render.plots import PALETTE, bar, figure

    rows = report["drift"]["features"]
    height = max(1.5, 0.28 * len(rows) + 0.8)
    # constrained layout costs more than the drawing: fixed margins instead
    fig, ax = figure(6, height, layout=None)
    fig.subplots_adjust(left=0.22, right=0.97, top=1 - 0.35 / height, bottom=0.45 / height)
    values = pd.Series({r["feature"]: r["psi"] if r["psi"] is not None else 0.0 for r in rows})
    colors = [PALETTE[3] if r["drifted"] else PALETTE[0] for r in rows]
    bar(ax, values, title="population stability index", xlabel="PSI", color=colors)
    ax.axvline(params.psi_threshold, color="grey", linestyle="--", linewidth=1)
    return fig


def _distribution(name: str, acc, ref):
    """Reference vs current: overlaid densities (numeric samples) or level shares (categories)."""
    from mlctl.render.plots import PALETTE, figure, hist_by_group

    fig, ax = figure(4.6, 2.8, layout=None)
    fig.subplots_adjust(left=0.12, right=0.97, top=0.9, bottom=0.22)
    b = ref.bins[name]
    if b.kind == "numeric" and acc.sample.frame is not None:
        r, c = ref.sample[name].to_numpy(), acc.sample.frame[name].to_numpy()
        hist_by_group(ax, np.concatenate([r, c]), ["reference"] * len(r) + ["current"] * len(c), title=name)
        return fig
    labels = b.labels()
    r = ref.counts[name] / max(ref.counts[name].sum(), 1)
    c = acc.counts[name] / max(acc.counts[name].sum(), 1)
    top = np.argsort(-(r + c))[:15]
    x = np.arange(len(top))
    ax.bar(x - 0.2, r[top], width=0.4, color=PALETTE[0], label="reference")
    ax.bar(x + 0.2, c[top], width=0.4, color=PALETTE[1], label="current")
    ax.set_xticks(x, [labels[i][:14] for i in top], fontsize=7, rotation=30, ha="right")
    ax.set_title(name, fontsize=9)
    ax.legend(fontsize=7, frameon=False)
    return fig


def _windows_figure(report: dict):
    from mlctl.render.plots import PALETTE, figure

    wins = [w for w in report["windows"] if w["start"]]
    panels = [("rows", [w["rows"] for w in wins]), ("drift share (PSI)", [w.get("drift_share") for w in wins])]
    if any("prediction_shares" in w for w in wins):
        last = list(wins[0].get("prediction_shares", {"": 0}))[-1]
        panels.append((f"share predicted {last}", [w.get("prediction_shares", {}).get(last) for w in wins]))
    if any("prediction_mean" in w for w in wins):
        panels.append(("mean prediction", [w.get("prediction_mean") for w in wins]))
    if any("metric" in w for w in wins):
        name = next(w["metric"] for w in wins if "metric" in w)
        panels.append((name, [w.get("metric_value") for w in wins]))
    height = 1.4 * len(panels) + 0.6
    fig, axes = figure(7, height, nrows=len(panels), layout=None)
    fig.subplots_adjust(left=0.12, right=0.98, top=1 - 0.15 / height, bottom=0.75 / height, hspace=0.25)
    x = np.arange(len(wins))
    for ax, (title, values) in zip(np.atleast_1d(axes), panels, strict=True):
        y = np.array([np.nan if v is None else v for v in values], dtype="float64")
        ax.plot(x, y, marker="o", markersize=3, color=PALETTE[0])
        ax.set_ylabel(title, fontsize=7)
        ax.tick_params(labelsize=7)
    step = max(1, len(wins) // 10)
    axes_list = np.atleast_1d(axes)
    for ax in axes_list[:-1]:  # one time axis, labelled at the bottom
        ax.set_xticks(x[::step], [])
    axes_list[-1].set_xticks(x[::step], [str(w["start"])[:13] for w in wins[::step]], rotation=30, ha="right")
    return fig
