"""reports/replay.{json,md,html}: the replay's findings for machines, for the pull request, and for people."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlctl.render import format_value, markdown_table

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.core.project import Project
    from mlctl.params.replay import ReplayParams


def write_reports(report: dict, params: ReplayParams, project: Project) -> dict[str, str]:
    """Write the three reports atomically (the HTML first: nothing is written if it fails)."""
    from mlctl.core.fileio import write_json, write_text

    paths = {
        "json": project.path(params.report_json, what="report"),
        "md": project.path(params.report_md, what="report"),
        "html": project.path(params.report_html, what="report"),
    }
    html = render_html(report)
    write_json(paths["json"], report)
    write_text(paths["md"], render_markdown(report))
    write_text(paths["html"], html)
    return {k: project.rel(v) for k, v in paths.items()}


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


def summary(report: dict) -> dict[str, Any]:
    a, lat, log = report["agreement"], report["latency"], report["log"]
    return {
        "rows replayed": log["rows"],
        "compared": a["compared"],
        "disagreements": a["disagreements"],
        "disagreement": a["disagreement"],
        "new rejects": report["rejects"]["new"],
        "candidate single-row median (ms)": (lat.get("candidate") or {}).get("median_ms"),
        "champion single-row median (ms)": (lat.get("champion") or {}).get("median_ms"),
        "latency ratio": lat.get("ratio"),
        "prediction PSI": report["shift"]["prediction"]["psi"],
    }


def limits_frame(report: dict) -> pd.DataFrame:
    rows = [
        {**c, "verdict": "skipped" if c["skipped"] else "passed" if c["passed"] else "FAILED"}
        for c in (report.get("limits") or {}).get("checks", [])
    ]
    return _frame(rows, ["metric", "value", "limit", "verdict", "detail"])


def slices_frame(report: dict) -> pd.DataFrame:
    rows = [{"column": s["column"], **g} for s in report["slices"] for g in s["groups"]]
    return _frame(rows, ["column", "value", "rows", "compared", "disagreements", "disagreement"])


def top_frame(report: dict) -> pd.DataFrame:
    rows = [
        {
            "request_id": d["request_id"],
            "champion": d["champion"],
            "candidate": d["candidate"],
            "difference": d["difference"],
            "inputs": ", ".join(f"{k}={format_value(v)}" for k, v in d["inputs"].items()),
        }
        for d in report["disagreements"]
    ]
    return _frame(rows, ["request_id", "champion", "candidate", "difference", "inputs"])


def render_markdown(report: dict) -> str:
    """The section the pull-request report quotes."""
    cand, log = report["candidate"], report["log"]
    verdict = report.get("limits") or {}
    lines = [
        f"# Replay: {'passed' if verdict.get('passed', True) else 'FAILED ' + ', '.join(verdict['failed'])}",
        "",
        f"Candidate `{cand['name']}` `{cand['version']}` on {log['rows']} logged request rows of "
        f"{', '.join(f'`{v}`' for v in log['champion_versions'])} from `{log['source']}`.",
        "",
        "\n".join(f"- **{k}**: {format_value(v)}" for k, v in summary(report).items()),
        "",
    ]
    if verdict.get("checks"):
        lines += ["## Limits (gate.replay)", "", markdown_table(limits_frame(report))]
    if report["slices"]:
        lines += ["## Agreement per slice", "", markdown_table(slices_frame(report))]
    if report["disagreements"]:
        lines += ["## Largest disagreements", "", markdown_table(top_frame(report))]
    rejects = report["rejects"]
    if rejects["new"]:
        lines += ["## Rows the candidate rejects", "", *[f"- `{k}`: {v}" for k, v in rejects["reasons"].items()], ""]
    labels = report.get("labels")
    if labels and labels.get("candidate"):
        rows = [
            {"metric": m, "champion": labels["champion"].get(m), "candidate": v} for m, v in labels["candidate"].items()
        ]
        lines += [
            f"## On {labels['labelled_rows']} labelled rows",
            "",
            markdown_table(_frame(rows, ["metric", "champion", "candidate"])),
        ]
    return "\n".join(lines)


def render_html(report: dict) -> str:
    import pandas as pd

    from mlctl.render.htmlpage import HtmlReport

    cand, log = report["candidate"], report["log"]
    page = HtmlReport(
        f"Replay of {cand['name']} {cand['version']}", f"{log['source']} · {log['rows']} logged rows replayed"
    )
    page.heading("Summary").key_values(summary(report))
    if (report.get("limits") or {}).get("checks"):
        page.table(limits_frame(report), "limits of gate.replay")
    if report["slices"]:
        page.heading("Agreement per slice").table(slices_frame(report))
        page.figure(_slice_figure(report), "disagreement per slice")
    shift = [report["shift"]["prediction"], *report["shift"]["scores"]]
    page.heading("Score shift (candidate vs champion)").table(pd.DataFrame(shift))
    page.heading("Largest disagreements").table(top_frame(report))
    rejects = report["rejects"]
    page.heading("New rejects").key_values({"rows": rejects["new"], **rejects["reasons"]})
    page.heading("Latency").key_values(
        {f"{who} {k}": v for who in ("candidate", "champion") for k, v in (report["latency"].get(who) or {}).items()}
    )
    labels = report.get("labels")
    if labels and labels.get("candidate"):
        rows = [
            {"metric": m, "champion": labels["champion"].get(m), "candidate": v} for m, v in labels["candidate"].items()
        ]
        page.heading(f"Metrics on {labels['labelled_rows']} labelled rows").table(pd.DataFrame(rows))
    return page.render()


def _slice_figure(report: dict):
    from mlctl.render.plots import figure

    frame = slices_frame(report).head(30)
    labels = [f"{c}={v}" for c, v in zip(frame["column"], frame["value"], strict=True)]
    fig, ax = figure(6.0, max(1.5, 0.25 * len(frame) + 0.8))
    ax.barh(labels[::-1], frame["disagreement"].fillna(0).tolist()[::-1])
    ax.set_xlabel("share of rows answered differently")
    return fig
