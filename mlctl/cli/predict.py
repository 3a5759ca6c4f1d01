"""`mlctl predict`: batch scoring of files with the exported ONNX model."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt, load, user_path
from mlctl.cli.errors import handled


@handled
def predict(
    input: str = typer.Argument(None, help="File, glob or directory of partitions (default: predict.input)."),
    output: str = typer.Argument(None, help="Output file; .parquet, .csv or .jsonl (default: predict.output)."),
    model: str = typer.Option(
        None, "--model", help="ONNX model (default: predict.model), or a registry reference name@stage / name@vX.Y.Z."
    ),
    manifest: str = typer.Option(None, "--manifest", help="Model manifest (default: the model path with .json)."),
    passthrough: list[str] = typer.Option(None, "--passthrough", help="Column copied to the output (repeatable)."),
    chunk_rows: int = typer.Option(None, "--chunk-rows", help="Rows scored per chunk."),
    engine: str = typer.Option(None, "--engine", help="local or dask."),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address (default: a LocalCluster)."),
    project_dir: Path = ProjectOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Score CSV, Parquet or JSON-lines files in chunks; bad rows go to a rejects file."""
    from pydantic import ValidationError

    from mlctl.cli.output import RichProgress, ok, out, print_json, table, warn
    from mlctl.errors import ConfigError
    from mlctl.params.predict import PredictParams
    from mlctl.stages.predict import run

    project, params = load(project_dir)
    # paths typed here are the user's: relative to where the command runs (-C DIR), anywhere (not only in the project)
    input, output = user_path(input, project_dir), user_path(output, project_dir)
    manifest = user_path(manifest, project_dir)
    if model and "@" not in model:
        model = user_path(model, project_dir)
    if model and "@" in model:  # a registry reference: fetch that version's model and manifest
        from mlctl.registry import materialise

        model_path, manifest_path = materialise(project.root, model)
        model, manifest = project.rel(model_path), project.rel(manifest_path)
    updates = {"input": input, "output": output, "model": model, "chunk_rows": chunk_rows, "engine": engine}
    updates |= {"scheduler": scheduler, "passthrough": passthrough or None}
    if model and not manifest:
        manifest = str(Path(model).with_suffix(".json"))
    updates["manifest"] = manifest
    try:
        section = PredictParams.model_validate(
            {**params.predict.model_dump(), **{k: v for k, v in updates.items() if v is not None}}
        )
    except ValidationError as exc:
        msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(msg, where="command line") from None
    if as_json:
        result = run(section, params.common, project)
        print_json(result.to_dict())
        return
    with RichProgress() as bar:
        result = run(section, params.common, project, progress=bar)
    rows = [
        ["rows in", f"{result.rows_in:,}"],
        ["scored", f"{result.rows_scored:,}"],
        ["rejected", f"{result.rows_rejected:,} ({result.reject_share:.2%})"],
        ["rows/s", f"{result.rows_per_second:,.0f}"],
        ["model", f"{result.model['name']} {result.model['version']}"],
    ]
    out.print(table("predict", ["", ""], rows))
    if result.rows_rejected:
        warn(f"{result.rows_rejected:,} row(s) rejected: see {result.rejects}")
    ok(f"wrote {result.output} ({result.seconds:.1f}s), run manifest {result.manifest}")


def register(app: typer.Typer) -> None:
    app.command("predict")(predict)
