"""`mlctl smoke URL`: the deployment smoke test CD runs against staging."""

from __future__ import annotations

import typer

from mlctl.cli.common import JsonOpt
from mlctl.cli.handler import handled


@handled
def smoke(
    url: str = typer.Argument(..., help="Base URL of the service, e.g. http://127.0.0.1:8080"),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds to wait for readiness."),
    sha256: str = typer.Option(None, "--sha256", help="Fail unless the service runs this model (its sha256)."),
    as_json: bool = JsonOpt,
) -> None:
    """Check a running service: readiness, metadata, and one real prediction."""
    from mlctl.cli.output import ok, print_json
    from mlctl.stages.smoke import smoke as run_smoke

    result = run_smoke(url, timeout=timeout, expect_sha256=sha256)
    if as_json:
        print_json(result.to_dict())
    else:
        ok(
            f"{result.url}: ready after {result.ready_after_s:.1f}s, model {result.model_version}, "
            f"prediction {result.prediction!r} in {result.latency_ms:.1f} ms"
        )


def register(app: typer.Typer) -> None:
    app.command("smoke")(smoke)
