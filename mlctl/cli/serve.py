"""`mlctl serve`: the REST prediction service."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import ProjectOpt, load, user_path
from mlctl.cli.errors import handled


@handled
def serve(
    model: str = typer.Option(
        None,
        "--model",
        "-m",
        help="ONNX model file (default: serve.model); its manifest is "
        "the .json beside it. Or a registry reference: name@stage, name@vX.Y.Z.",
    ),
    host: str = typer.Option(None, "--host", help="Bind address (default: serve.host, 127.0.0.1)."),
    port: int = typer.Option(None, "--port", "-p", help="Port (default: serve.port, 8080)."),
    workers: int = typer.Option(None, "--workers", "-w", help="Worker processes (default: serve.workers)."),
    access_log: bool = typer.Option(False, "--access-log", help="Log every request (costs throughput)."),
    project_dir: Path = ProjectOpt,
) -> None:
    """Serve the exported ONNX model: /predict, MLflow /invocations, Open Inference Protocol /v2, /metrics."""
    from mlctl.cli.output import ok
    from mlctl.serve.server import prepare

    project, params = load(project_dir)
    prepared = prepare(
        params.serve,
        project,
        model=model if model and "@" in model else user_path(model, project_dir),  # name@stage: a registry ref
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
    )
    m = prepared.model
    ok(
        f"serving {m.name} {m.version} ({m.task}) on {prepared.url} with {prepared.workers} worker(s); "
        f"docs at {prepared.url}/docs"
    )
    prepared.run()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
