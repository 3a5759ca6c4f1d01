"""The report as GitHub-flavoured Markdown: summary, metrics, params, gate, data, plots, watch."""

from __future__ import annotations

import json
from typing import Any

from mlctl.render import format_value
from mlctl.stages.report.diff import EPS, MetricRow
from mlctl.stages.report.github import MARKER
from mlctl.stages.report.watch import perf_verdict

OVERLAY = {
    "confusion": " (this and base side by side)",
    "roc": " (base dashed grey, this blue)",
    "precision_recall": " (base dashed grey, this blue)",
    "calibration": " (base dashed grey, this blue)",
}
ARROWS = {"same": "= same", "new": "new", "removed": "removed", "changed": "changed"}


def cell(value: Any) -> str:
    """One table cell: numbers to 4 significant digits, lists as JSON, pipes and newlines escaped."""
    if value is None:
        text = "—"
    elif isinstance(value, (list, dict)):
        text = json.dumps(value, default=str)
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, (int, float)) and abs(value) >= 1e4:
        text = f"{value:,.0f}"  # 210,000 rows/s, not 2.1e+05
    else:
        text = format_value(value)
    return text.replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def table(
    header: list[str], rows: list[list[Any]], raw: set[int] | frozenset = frozenset(), right: set[int] | None = None
) -> str:
    """A Markdown table; columns in ``raw`` are already Markdown, columns in ``right`` right-aligned (numbers)."""
    rule = ["---:" if i in (right or ()) else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(v) if i in raw else cell(v) for i, v in enumerate(row)) + " |")
    return "\n".join(lines) + "\n"


def arrow(row: MetricRow, verdict: str | None = None) -> str:
    """▲/▼ for the direction of the change, with better/worse when the metric has a direction."""
    verdict = verdict or row.verdict
    if verdict in ARROWS:
        up = row.delta is not None and row.delta > 0
        return ("▲ changed" if up else "▼ changed") if verdict == "changed" else ARROWS[verdict]
    if verdict == "within noise":
        return "≈ within noise"
    return ("▲ " if (row.delta or 0) > 0 else "▼ ") + verdict


def _signed(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "—"
    if abs(value) <= EPS:
        return "0"
    if pct:
        return f"{value:+.1f}%"
    if abs(value) >= 1e4:
        return f"{value:+,.0f}"
    if abs(value) >= 1e-4:  # +0.0500, not +0.04999999: metric deltas read best at four decimals
        return f"{value:+.4f}".rstrip("0").rstrip(".")
    return f"{value:+.1e}"


def metric_table(rows: list[MetricRow], verdicts: dict[int, str] | None = None, first: str = "metric") -> str:
    verdicts = verdicts or {}
    body = [
        [f"`{r.key}`", r.base, r.this, _signed(r.delta), _signed(r.relative, pct=True), arrow(r, verdicts.get(i))]
        for i, r in enumerate(rows)
    ]
    return table([first, "base", "this", "delta", "change", ""], body, raw={0, 3, 4, 5}, right={1, 2, 3, 4})


def _details(summary: str, body: str) -> str:
    # markdown="1": Python-Markdown's md_in_html renders the inside; GitHub renders it anyway (blank lines)
    return f'<details markdown="1">\n<summary>{summary}</summary>\n\n{body}\n</details>\n'


def monitor_section(m: dict, limit: int) -> str:
    """The monitoring verdict that led to this run (continuous training): alerts and drifted features."""
    verdict = f"**{m.get('verdict', '?')}**" + (", retraining advised" if m.get("retrain_advised") else "")
    rows = [
        [f"`{f.get('feature')}`", f.get("test"), f.get("p_value"), f.get("psi")]
        for f in (m.get("drift") or {}).get("features", [])
        if f.get("drifted")
    ]
    shown, more = _cap(rows, limit)
    alerts = "".join(f"- {a}\n" for a in m.get("alerts") or [])
    current = (m.get("current") or {}).get("rows")
    body = f"Verdict {verdict} on {current} current rows.\n\n{alerts}"
    if shown:
        body += "\nDrifted features:\n\n" + table(["feature", "test", "p-value", "PSI"], shown, {0}) + more
    return body + "\nFull report: `reports/monitor.md` / `reports/monitor.html` in the run's artifacts.\n"


def replay_section(markdown: str) -> str:
    """reports/replay.md, its headings nested under this section; the verdict line first, the rest folded."""
    lines = markdown.strip().splitlines()
    title = lines[0].lstrip("# ").strip() if lines else "Replay"
    body = "\n".join(("####" + line[2:]) if line.startswith("## ") else line for line in lines[1:])
    return f"**{title}**\n\n" + _details("candidate vs champion on the request log", body + "\n")


def _cap(rows: list, limit: int) -> tuple[list, str]:
    if len(rows) <= limit:
        return rows, ""
    return rows[:limit], f"\n_…and {len(rows) - limit} more (see the JSON files in the artifact)._\n"


def summary(r: dict) -> str:
    lines = [["Gate", _gate_word(r["gate"])]]
    head = r.get("headline")
    if head:
        lines.append([f"`{head['key']}`", f"{cell(head['base'])} → {cell(head['this'])} ({head['arrow']})"])
    v = r.get("validation")
    lines.append(["Data validation", "not found" if v is None else ("valid" if v.get("valid") else "**INVALID**")])
    d = r["drift"]
    lines.append(["Training-data drift", _drift_word(d)])
    changed_pkgs = sum(1 for p in r["packages"] if p["notes"])
    changed_src = sum(1 for s in r["sources"] if s["status"] in ("changed", "new", "removed"))
    lines.append(["Dependencies", f"{changed_pkgs} package note(s), {changed_src} source change(s)"])
    lines.append(["Params", f"{len(r['params'])} changed"])
    return table(["check", "result"], lines, raw={0, 1})


def _gate_word(gate: dict | None) -> str:
    if gate is None:
        return "no reports/gate.json (run the pipeline)"
    rules = gate.get("rules") or []
    skipped = sum(1 for x in rules if x.get("skipped"))
    failed = sum(1 for x in rules if not x.get("passed") and not x.get("skipped"))
    word = "**passed**" if gate.get("passed") else "**REJECTED**"
    return f"{word} ({len(rules)} rules: {failed} failed, {skipped} skipped)"


def _drift_word(d: dict) -> str:
    if not d["available"]:
        return "not compared (base data unavailable)"
    if d["identical"]:
        return "none (identical training data)"
    return f"{len(d['drifted'])} of {len(d['features'])} features drifted"


def gate_section(gate: dict | None) -> str:
    if gate is None:
        return "_reports/gate.json was not found: run the pipeline (`mlctl run`) before the report._\n"
    rows = []
    for x in gate.get("rules") or []:
        result = "skipped" if x.get("skipped") else "pass" if x.get("passed") else "**FAIL**"
        rows.append([x.get("rule"), x.get("metric"), x.get("value"), x.get("limit"), result, x.get("detail") or ""])
    verdict = "The gate **passed**." if gate.get("passed") else "The gate **rejected** the model."
    return f"{verdict}\n\n" + table(["rule", "metric", "value", "limit", "result", "detail"], rows, {4}, {2, 3})


def features_section(f: dict) -> str:
    """Feature value (evaluate): the features whose permutation importance interval includes 0."""
    useless = f.get("useless") or []
    if not useless:
        return f"Every feature's `{f.get('metric')}` importance interval is above 0: none is a candidate to drop.\n"
    rows = [[f"`{r['feature']}`", r["importance"], r["low"], r["high"]] for r in f["features"] if r.get("useless")]
    return (
        f"**{len(useless)} candidate(s) to drop**: shuffling them does not measurably lower `{f.get('metric')}` "
        f"({f.get('confidence', 0.95):.0%} paired-bootstrap interval includes 0).\n\n"
        + table(["feature", "importance", "low", "high"], rows, {0}, {1, 2, 3})
    )


def score_section(s: dict) -> str:
    """The ML Test Score (`mlctl score`): the sections, and the tests not automated in a closed details block."""
    head = table(["section", "score"], [[k, v] for k, v in s["sections"].items()], right={1})
    todo = [t for t in s["tests"] if t["status"] != "automated"]
    rows = [[t["id"], t["title"], t["status"], t["evidence"], t["next"]] for t in todo]
    body = table(["test", "title", "status", "evidence", "next"], rows) if rows else "_Every test is automated._\n"
    summary_line = f"{len(todo)} of {len(s['tests'])} tests not automated (`mlctl score` for the evidence of all)"
    return f"Score **{s['score']:g}** (the lowest section).\n\n{head}\n" + _details(summary_line, body)


def validation_section(v: dict | None, limit: int) -> str:
    if v is None:
        return "_reports/validation.json was not found._\n"
    s = v.get("summary") or {}
    head = (
        f"{'Valid' if v.get('valid') else '**Invalid**'}: {v.get('rows')} rows, {v.get('columns')} columns; "
        f"{s.get('schema_skew', 0)} schema skew, {s.get('value_skew', 0)} value skew "
        f"({s.get('value_skew_exceeded', 0)} over threshold).\n"
    )
    findings = [*(v.get("schema_skew") or []), *(v.get("value_skew") or [])]
    warnings = "".join(f"\n- {w}" for w in v.get("warnings") or [])
    if not findings:
        return head + warnings + "\n"
    findings, more = _cap(findings, limit)
    rows = [
        [
            f.get("column"),
            f.get("skew"),
            f.get("check"),
            f.get("value", f.get("failures")),
            f.get("threshold"),
            f.get("exceeded", True),
        ]
        for f in findings
    ]
    return head + "\n" + table(["column", "skew", "check", "value", "threshold", "over"], rows) + more + warnings


def drift_section(d: dict, limit: int) -> str:
    if not d["available"]:
        return f"_Not compared: {d['reason']}_\n"
    head = f"`{d['path']}`: base {d['base_rows']} rows, this {d['this_rows']} rows."
    if d["identical"]:
        return head + " The training data is identical.\n"
    if d.get("reason"):
        return f"{head} {d['reason']}.\n"
    rows, more = _cap(d["features"], limit)
    cols = ("feature", "kind", "test", "statistic", "p_value", "psi")
    body = [[*(f[c] for c in cols), "**yes**" if f["drifted"] else "no"] for f in rows]
    drifted = ", ".join(f"`{n}`" for n in d["drifted"]) or "none"
    return (
        f"{head} Drifted: {drifted}.\n\n"
        + table(["feature", "kind", "test", "statistic", "p-value", "PSI", "drifted"], body, {6}, {3, 4, 5})
        + more
    )


def plots_section(figures: list[dict], image_dir: str, for_comment: bool, artifacts: str | None) -> str:
    if not figures:
        return "_No plot data (plots/*.csv) found._\n"
    where = f"Images are in `{image_dir}/` beside the report; in CI the workflow uploads `reports/` as an artifact"
    where += f" — download it from [this run's artifacts]({artifacts})." if artifacts else "."
    if for_comment:  # a comment cannot show files of the checkout: list them, point at the artifact
        items = "".join(f"\n- {f['title']}: `{image_dir}/{f['name']}.png`" for f in figures)
        return f"{where}{items}\n"
    overlaid = [f["title"] for f in figures if f["with_base"]]
    legend = (
        f" This revision in blue, the base in grey (dashed) in: {', '.join(overlaid)}."
        if overlaid
        else " The base revision has no plot data to overlay."
    )
    # one paragraph: the images flow side by side where the page is wide enough
    images = " ".join(f"![{f['title']}]({f['src']})" for f in figures)
    return f"{where}{legend}\n\n{images}\n"


def watch_section(r: dict, tolerance: float, limit: int) -> str:
    parts = ["**Packages** recorded at training (`models/train.json`) and installed now:\n"]
    pk, more = _cap(r["packages"], limit)
    if pk:
        rows = [[p["package"], p["base"], p["this"], p["installed"], ", ".join(p["notes"]) or "ok"] for p in pk]
        parts.append(table(["package", "base (trained)", "this (trained)", "installed", "notes"], rows) + more)
    else:
        parts.append("_No package versions recorded._\n")
    parts.append("\n**Source data** fingerprints (`data/raw/manifest.json`):\n")
    if r["sources"]:
        rows = [
            [
                s["source"],
                _short(s["base_fingerprint"]),
                _short(s["this_fingerprint"]),
                s["base_rows"],
                s["this_rows"],
                s["status"],
            ]
            for s in r["sources"]
        ]
        parts.append(table(["source", "base", "this", "base rows", "this rows", "status"], rows, raw={1, 2}))
    else:
        parts.append("_No source manifest found._\n")
    file = r.get("perf_file", "reports/bench.json")
    parts.append(
        f"\n**Serving micro-benchmark** (`{file}` from `mlctl bench`, onnxruntime through mlctl.onnxmodel.runtime):\n"
    )
    perf = [MetricRow(**{k: p[k] for k in ("file", "key", "base", "this", "direction")}) for p in r["perf"]]
    if perf:
        verdicts = {i: perf_verdict(p, tolerance) for i, p in enumerate(perf)}
        parts.append(metric_table(perf, verdicts, first="measure"))
        parts.append(f"\n_Changes within ±{tolerance:.0%} are treated as runner noise._\n")
    else:
        parts.append(f"_No {file} here or at the base: run `mlctl bench` before the report._\n")
    return "\n".join(parts)


def _short(sha: str | None) -> str:
    return "—" if not sha else f"`{sha[:12]}`"


def render(r: dict, *, image_dir: str, for_comment: bool = False) -> str:
    """The whole report as Markdown (``for_comment``: images listed instead of embedded)."""
    this = f"`{r['head'][:8]}` + working tree" if r.get("head") else "working tree"
    base = f"`{r['base']['ref']}` (`{r['base']['commit'][:8]}`)"
    limit = r["max_rows"]
    out = [MARKER, f"## mlctl report: {this} vs {base}\n", summary(r)]
    out.append("### Metrics\n")
    for section in r["metrics"]:
        rows = [MetricRow(**m) for m in section["rows"]]
        if section["headline"]:
            out.append(f"`{section['file']}`\n\n" + (metric_table(rows) if rows else "_no metrics_\n"))
            continue
        changed = [m for m in rows if m.changed]
        shown, more = _cap(changed, limit)
        title = f"<code>{section['file']}</code>: {len(changed)} of {len(rows)} values changed"
        out.append(_details(title, (metric_table(shown) + more) if shown else "_Nothing changed._\n"))
    out.append("### Params\n")
    params = r["params"]
    if params:
        shown, more = _cap(params, limit)
        out.append(table(["key", "base", "this"], [[f"`{p['key']}`", p["base"], p["this"]] for p in shown], {0}) + more)
    else:
        out.append("_No params changed._\n")
    out += ["### Gate\n", gate_section(r["gate"])]
    if r.get("features"):
        out += ["### Feature value\n", features_section(r["features"])]
    out += ["### Data validation\n", validation_section(r["validation"], limit)]
    out += ["### Training-data drift against the base\n", drift_section(r["drift"], limit)]
    if r.get("monitor"):
        out += ["### Monitoring (`mlctl monitor`)\n", monitor_section(r["monitor"], limit)]
    if r.get("score"):
        out += ["### ML Test Score\n", score_section(r["score"])]
    if r.get("replay"):
        out += ["### Replay on logged traffic (`mlctl replay`)\n", replay_section(r["replay"])]
    out += ["### Plots\n", plots_section(r["figures"], image_dir, for_comment, r.get("artifacts_url"))]
    out += ["### Dependency and performance watch\n", watch_section(r, r["perf_tolerance"], limit)]
    out.extend(f"\n> note: {n}" for n in r.get("notes") or [])
    return "\n".join(out).rstrip() + "\n"
