"""`mlctl export` (pipeline → ONNX + manifest, parity-checked) and `mlctl explain` (one row, step by step)."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt, load, user_path
from mlctl.cli.errors import handled


@handled
def export(project_dir: Path = ProjectOpt, as_json: bool = JsonOpt) -> None:
    """Convert the trained pipeline to ONNX, prove it matches scikit-learn on the test split, write it.

    Writes models/model.onnx and its manifest models/model.json. Nothing is written
    if the conversion, onnx's checker or the parity check fails (exit 8).
    """
    from mlctl.cli.output import RichProgress, ok, out, print_json, table
    from mlctl.stages.export import run

    project, params = load(project_dir)
    with RichProgress() as bar:
        result = run(params.export, params.common, project, progress=bar)
    data = result.to_dict()
    if as_json:
        print_json(data)
        return
    p = data["parity"]
    rows = [
        ["estimator", data["estimator"]],
        ["version", data["version"]],
        ["sha256", data["sha256"]],
        ["size", f"{data['size_bytes'] / 1024:.1f} KiB"],
        ["opset", data["opset"]],
        ["inputs", data["inputs"]],
        ["parity rows", p["rows"]],
    ]
    if p["label_agreement"] is not None:
        ties = f", {p['tied_disagreements']} tie(s) broken the other way" if p["tied_disagreements"] else ""
        rows.append(["label agreement", f"{p['label_agreement']:.4%} (need ≥ {p['min_label_agreement']:.4%}{ties})"])
    rows.append([f"max {p['outputs']} diff", f"{p['max_abs_diff']:.3g} (tolerance {p['tolerance']:g})"])
    if p["rows_outside_schema"]:
        rows.append(["rows serving would reject", p["rows_outside_schema"]])
    out.print(table("export", ["", "value"], rows))
    ok(f"wrote {project.rel(result.onnx_path)} and {project.rel(result.manifest_path)} in {result.seconds:.1f}s")


@handled
def explain(
    row: int = typer.Option(None, "--row", "-r", help="Row position (0-based) in the test split, or in --input."),
    json_input: str = typer.Option(None, "--json-input", help="One example as JSON: '{\"feature\": value, ...}'."),
    input_path: Path = typer.Option(None, "--input", "-i", help="Take --row from this CSV/Parquet/JSONL file."),
    project_dir: Path = ProjectOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Run one example through the fitted pipeline and show every step, the prediction and ONNX's answer.

    Exits 8 if the exported ONNX model (when present) disagrees with scikit-learn on the row.
    """
    from mlctl.cli.output import err, out, print_json
    from mlctl.errors import EXIT_MODEL_INVALID
    from mlctl.stages.explain import run

    project, params = load(project_dir)
    result = run(
        params.export,
        params.common,
        project,
        row=row,
        json_input=json_input,
        input_path=user_path(input_path, project_dir),
    )
    if as_json:
        print_json(result.to_dict())
    else:
        _print_explanation(result, out)
    if result.agree is False:
        err.print("[bold red]model error:[/bold red] the ONNX model disagrees with scikit-learn on this row")
        raise typer.Exit(EXIT_MODEL_INVALID)


def _print_explanation(result, console) -> None:
    from mlctl.cli.output import ok, table, warn

    console.print(f"[bold]{result.estimator}[/bold] on {result.source}")
    rows = [[i["name"], i["kind"], _shown(i["raw"]), _shown(i["model_value"])] for i in result.inputs]
    console.print(table("input", ["feature", "kind", "raw", "model input"], rows))
    for step in result.steps[:-1]:  # the last step's output is the feature vector, printed next
        console.print(
            table(step.name, ["feature", "value"], [list(p) for p in zip(step.features, step.values, strict=True)])
        )
    v = result.feature_vector
    console.print(
        table(
            f"feature vector ({len(v.values)} values)",
            ["feature", "value"],
            [list(p) for p in zip(v.features, v.values, strict=True)],
        )
    )
    onnx = result.onnx or {}
    columns = ["", "scikit-learn"] + (["onnx"] if result.onnx else [])
    rows = [["prediction", result.prediction] + ([onnx["prediction"]] if result.onnx else [])]
    for name, value in (result.scores or {}).items():
        rows.append(
            [f"{result.scores_kind}: {name}", value] + ([(onnx.get("scores") or {}).get(name)] if result.onnx else [])
        )
    console.print(table("prediction", columns, rows))
    for message in result.warnings:
        warn(message)
    if result.onnx is None:
        warn("no exported ONNX model to compare with: run `mlctl export`")
    elif result.agree:
        ok(f"ONNX model {onnx['version']} agrees (max difference {onnx['max_abs_diff']:.3g} ≤ {onnx['tolerance']:g})")


def _shown(value):
    return "(missing)" if value is None or value == "" else value


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("explain")(explain)
