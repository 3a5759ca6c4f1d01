"""`mlctl schema infer` and `mlctl validate`: the data contract and its check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt, load, user_path
from mlctl.cli.errors import handled

schema_app = typer.Typer(help="Write the data contract (pandera schema + reference profile).", no_args_is_help=True)


@schema_app.command("infer")
@handled
def schema_infer(
    input: str = typer.Option(None, "--input", "-i", help="Reference data (default: validate.input)."),
    project_dir: Path = ProjectOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Infer data/schema.yaml and data/profile.json from reference data (review, then commit them)."""
    from mlctl.cli.output import ok, out, print_json, table, warn
    from mlctl.schema import run_infer

    project, params = load(project_dir)
    result = run_infer(params.validate_, params.common, project, input=user_path(input, project_dir))
    if as_json:
        print_json(result.to_dict())
        return
    rows = [
        [c["name"], c["dtype"], c["kind"], "yes" if c["nullable"] else "no", _flags(c), _short(", ".join(c["checks"]))]
        for c in result.columns
    ]
    out.print(
        table(
            f"schema ({result.reference}, {result.rows:,} rows)",
            ["column", "dtype", "kind", "nullable", "declared", "checks"],
            rows,
        )
    )
    for message in result.warnings:
        warn(message)
    ok(f"wrote {result.schema} and {result.profile}: review the schema and commit both")


def _flags(column: dict[str, Any]) -> str:
    return ", ".join(name for name, on in (("unique", column["unique"]), ("personal", column["personal_data"])) if on)


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _figure(f: dict[str, Any]) -> str:
    """The measured figure against its limit, e.g. '0.15 > 0.05' or 'null 0.23 (was 0.08)'."""
    if f.get("value") is None:
        return ""
    shown = f"{f['value']:.3g} {'>' if f['exceeded'] else '≤'} {f['threshold']:g}"
    if f["kind"] == "null_rate" and "reference" in f:
        shown += f" (null {f['null_rate']:.3g}, was {f['reference']:.3g})"
    return shown


def _example(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else repr(value)


def _rows(report: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for f in report["schema_skew"] + report["value_skew"]:
        if f["skew"] == "schema":
            verdict = "[red]stop[/red]"
        else:
            verdict = "[red]beyond tolerance[/red]" if f["exceeded"] else "[yellow]within tolerance[/yellow]"
        examples = _short(", ".join(_example(v) for v in f.get("examples") or []), 50)
        detail = ": ".join(
            x
            for x in (f"expected {f['expected']}, got {f['actual']}" if "expected" in f else "", f.get("detail", ""))
            if x
        )
        rows.append(
            [
                f["column"],
                f"{f['skew']}: {f['kind']}",
                _short(str(f["check"]), 40),
                f.get("failures", ""),
                _figure(f),
                "; ".join(x for x in (detail, examples) if x),
                verdict,
            ]
        )
    return rows


def _print_report(report: dict[str, Any]) -> None:
    from mlctl.cli.output import out, table, warn

    rows = _rows(report)
    if rows:
        columns = ["column", "finding", "check", "failures", "share / score", "examples", "verdict"]
        out.print(table("validation findings", columns, rows))
    for message in report.get("warnings", []):
        warn(message)


@handled
def validate(project_dir: Path = ProjectOpt, as_json: bool = JsonOpt) -> None:
    """Check the raw data against data/schema.yaml and data/profile.json; write reports/validation.json."""
    from mlctl.cli.output import ok, print_json
    from mlctl.errors import DataValidationError
    from mlctl.stages.validate import run

    project, params = load(project_dir)
    try:
        result = run(params.validate_, params.common, project)
    except DataValidationError as exc:
        if as_json:  # one JSON document on stdout: the report (the message goes to stderr)
            from mlctl.cli.errors import report as report_error

            print_json(exc.report)
            raise typer.Exit(report_error(exc)) from None
        _print_report(exc.report)
        raise
    if as_json:
        print_json(result.report)
        return
    _print_report(result.report)
    report = result.report
    ok(
        f"{report['input']} is valid ({report['rows']:,} rows, {report['summary']['value_skew']} value-skew note(s) "
        f"within tolerance); report in {result.report_path}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(schema_app, name="schema")
    app.command("validate")(validate)
