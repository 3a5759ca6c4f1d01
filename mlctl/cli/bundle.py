"""`mlctl bundle`: the edge bundle (model, ORT format, schema, model card, standalone runner)."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt, load
from mlctl.cli.handler import handled


@handled
def bundle(
    quantize: bool = typer.Option(None, "--quantize/--no-quantize", help="Add a quantised model (bundle.quantize)."),
    project_dir: Path = ProjectOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Build dist/<name>-<version>.tar.gz with a checksum file, ready to copy to a device."""
    from mlctl.cli.output import RichProgress, ok, out, print_json, table, warn
    from mlctl.params import override
    from mlctl.stages.bundle import run

    project, params = load(project_dir)
    section = override(params.bundle, {"quantize": quantize})
    if as_json:
        print_json(run(section, params.common, project).to_dict())
        return
    with RichProgress() as bar:
        result = run(section, params.common, project, progress=bar)
    rows = [[f] for f in result.files]
    out.print(table(result.archive, ["file"], rows))
    for name, info in (("ORT format", result.ort), ("quantised", result.quantized)):
        if info and info.get("parity"):
            p = info["parity"]
            out.print(f"{name}: max |diff| {p['max_abs_diff']:.3g}, label agreement {p['label_agreement']:.2%}")
    for note in result.notes:
        warn(note)
    ok(f"wrote {result.archive} (sha256 {result.sha256[:12]}…) and {result.archive}.sha256")


def register(app: typer.Typer) -> None:
    app.command("bundle")(bundle)
