"""`mlctl serve`: the REST prediction service."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import ProjectOpt, load, user_path
from mlctl.cli.handler import handled


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
    shadow: str = typer.Option(
        None, "--shadow", help="A second model scoring requests off the response path, logged (path or name@stage)."
    ),
    shadow_share: float = typer.Option(None, "--shadow-share", help="Share of requests the shadow scores (0-1)."),
    canary: str = typer.Option(None, "--canary", help="A candidate answering a share of clients (path or name@stage)."),
    canary_share: float = typer.Option(None, "--canary-share", help="Share of clients the canary answers (0-1)."),
    canary_header: str = typer.Option(
        None, "--canary-header", help="Header hashed for sticky clients (default: serve.canary_header, X-Client-ID)."
    ),
    project_dir: Path = ProjectOpt,
) -> None:
    """Serve the exported ONNX model: /predict, MLflow /invocations, Open Inference Protocol /v2, /metrics."""
    from mlctl.cli.output import ok
    from mlctl.params import override
    from mlctl.serve.server import prepare

    project, params = load(project_dir)
    shares = {"shadow_share": shadow_share, "canary_share": canary_share, "canary_header": canary_header}
    prepared = prepare(
        override(params.serve, shares),
        project,
        model=_ref(model, project_dir),
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        shadow=_ref(shadow, project_dir),
        canary=_ref(canary, project_dir),
    )
    m = prepared.model
    ok(
        f"serving {m.name} {m.version} ({m.task}) on {prepared.url} with {prepared.workers} worker(s); "
        f"docs at {prepared.url}/docs"
    )
    c = prepared.config
    if c.shadow_model_path:
        ok(f"shadow {c.shadow_model_path} scores {c.shadow_share:.0%} of /predict requests off the response path")
    if c.canary_model_path:
        ok(f"canary {c.canary_model_path} answers {c.canary_share:.0%} of clients (header {c.canary_header})")
    prepared.run()


def _ref(value: str | None, project_dir: Path | None) -> str | None:
    """A model reference: name@stage as given (a registry reference), else a path typed here."""
    return value if value and "@" in value else user_path(value, project_dir)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
