"""`mlctl bench`: latency and throughput of the exported model, for the pull-request report."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt, load, user_path
from mlctl.cli.errors import handled


@handled
def bench(
    model: str = typer.Option(None, "--model", help="ONNX model (default: bench.model, models/model.onnx)."),
    input: str = typer.Option(None, "--input", help="Rows to score, Parquet (default: bench.input, the test split)."),
    output: str = typer.Option(None, "--output", "-o", help="Report (default: bench.output, reports/bench.json)."),
    rows: int = typer.Option(None, "--rows", help="Rows in one batch call (default: bench.rows)."),
    single: int = typer.Option(None, "--single", help="Single-row calls (default: bench.single)."),
    repeat: int = typer.Option(None, "--repeat", help="Batch calls (default: bench.repeat)."),
    threads: int = typer.Option(None, "--threads", help="onnxruntime threads, 0 = all cores (default: 1)."),
    project_dir: Path = ProjectOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Time single-row and batch scoring of the ONNX model (median, p95); write reports/bench.json."""
    from pydantic import ValidationError

    from mlctl.cli.output import RichProgress, ok, out, print_json, table
    from mlctl.errors import ConfigError
    from mlctl.params.bench import BenchParams
    from mlctl.stages.bench import run

    project, params = load(project_dir)
    updates = {k: user_path(v, project_dir) for k, v in (("model", model), ("input", input), ("output", output))}
    updates |= {"rows": rows, "single": single, "repeat": repeat, "threads": threads}
    if model:
        updates["manifest"] = str(Path(updates["model"]).with_suffix(".json"))
    try:
        section = BenchParams.model_validate(
            {**params.bench.model_dump(), **{k: v for k, v in updates.items() if v is not None}}
        )
    except ValidationError as exc:
        msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(msg, where="command line") from None
    if as_json:
        print_json(run(section, params.common, project).to_dict())
        return
    with RichProgress() as bar:
        result = run(section, params.common, project, progress=bar)
    r = result.report
    one, batch = r["single_row"], r["batch"]
    lines = [
        ["single row", f"{one['p50_ms']:.3f}", f"{one['p95_ms']:.3f}", f"{one['rows_per_s']:,.0f}", one["calls"]],
        [
            f"batch of {batch['rows']:,}",
            f"{batch['median_ms']:.2f}",
            f"{batch['p95_ms']:.2f}",
            f"{batch['rows_per_s']:,.0f}",
            batch["runs"],
        ],
    ]
    out.print(
        table(
            f"bench: {r['model']['file']} (rows: {r['input']})", ["", "median ms", "p95 ms", "rows/s", "calls"], lines
        )
    )
    ok(f"wrote {result.output}")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
