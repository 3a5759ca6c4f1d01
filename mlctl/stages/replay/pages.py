"""reports/replay.{json,md,html}: the replay's findings for machines, for the pull request, and for people."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlctl.render import Rows, format_value, markdown_table

if TYPE_CHECKING:
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


def _frame(rows: list[dict], columns: list[str]) -> Rows:
    return Rows(rows, columns)  # a few rows: no pandas to import


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


def limits_frame(report: dict) -> Rows:
    rows = [
        {**c, "verdict": "skipped" if c["skipped"] else "passed" if c["passed"] else "FAILED"}
        for c in (report.get("limits") or {}).get("checks", [])
    ]
    return _frame(rows, ["metric", "value", "limit", "verdict", "detail"])


def slices_frame(report: dict) -> Rows:
    rows = [{"column": s["column"], **g} for s in report["slices"] for g in s["groups"]]
    return _frame(rows, ["column", "value", "rows", "compared", "disagreements", "disagreement"])


def top_frame(report: dict) -> Rows:
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
    page.heading("Score shift (candidate vs champion)").table(
        _frame(shift, list(dict.fromkeys(k for s in shift for k in s)))
    )
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
        page.heading(f"Metrics on {labels['labelled_rows']} labelled rows").table(
            _frame(rows, ["metric", "champion", "candidate"])
        )
    return page.render()


def _slice_figure(report: dict) -> str:
    """Disagreement per slice as a small inline SVG bar chart (no plotting library to import)."""
    import html

    groups = [(s["column"], g["value"], g.get("disagreement")) for s in report["slices"] for g in s["groups"]][:30]
    shares = [0.0 if v is None or v != v else float(v) for _, _, v in groups]  # missing (NaN, None): 0
    top = max([*shares, 1e-9])
    label_w, bar_w, row_h = 220, 360, 18
    rows = []
    for i, ((column, value, _), share) in enumerate(zip(groups, shares, strict=True)):
        y = i * row_h
        width = bar_w * share / top
        label = html.escape(f"{column}={value}"[:34])
        rows.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" font-size="11">{label}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{width:.1f}" height="{row_h - 6}" fill="#4c72b0"/>'
            f'<text x="{label_w + width + 4:.1f}" y="{y + 13}" font-size="11">{share:.2%}</text>'
        )
    height = row_h * max(len(rows), 1)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 60}" height="{height}" '
        f'role="img">{"".join(rows)}</svg>'
    )
