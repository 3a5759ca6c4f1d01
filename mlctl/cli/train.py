"""`mlctl train` and `mlctl exp run|show`."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt, load
from mlctl.cli.handler import handled

exp_app = typer.Typer(help="Run and compare DVC experiments (params sweeps).", no_args_is_help=True)


@handled
def train(project_dir: Path = ProjectOpt, as_json: bool = JsonOpt) -> None:
    """Search hyperparameters of every train.candidates model with cross-validation and save the best.

    Reads data/processed/, writes models/model.skops, baseline.skops, train.json and search_results.csv.
    """
    from mlctl.cli.output import RichProgress, ok, out, print_json, table
    from mlctl.stages.train import run

    project, params = load(project_dir)
    v = params.validate_
    with RichProgress() as bar:
        result = run(
            params.train,
            params.common,
            project,
            progress=bar,
            schema_path=project.path(v.schema_path, what="validate.schema_path"),
            personal_data=v.personal_data,
        )
    if as_json:
        print_json(result.to_dict())
        return
    report = result.report
    best = report["best"]["candidate"]
    rows = [
        [
            ("★ " if c["name"] == best else "") + c["name"],
            f"{c['cv_mean']:.4f} ± {c['cv_std']:.4f}",
            c["best_params"],
            c["n_fits"],
            f"{c['draws']}" + (f" (+{c['skipped_for_budget']} over budget)" if c.get("skipped_for_budget") else ""),
            f"{c['seconds']:.1f}s",
        ]
        for c in report["candidates"]
    ]
    title = f"candidates ({report['scoring']}, {report['search']['cv']}-fold CV, {report['search']['method']} search)"
    out.print(table(title, ["candidate", "cv score", "best params", "fits", "draws", "time"], rows))
    ok(
        f"best: {best} ({report['scoring']} {report['best']['cv_score']:.4f}), refit on "
        f"{' + '.join(report['refit_on'])} ({report['fit_rows']} rows), {len(report['features'])} features "
        f"→ {project.rel(result.model_path)}"
    )


@exp_app.command("run")
@handled
def exp_run(
    set_param: list[str] = typer.Option(
        None,
        "--set-param",
        "-S",
        help="Override a param, e.g. -S train.search.cv=5 or -S 'train.candidates=[knn]'. "
        "A comma list sweeps: -S train.search.cv=3,5 runs one experiment per value (per combination).",
    ),
    name: str = typer.Option(None, "--name", "-n", help="Experiment name (a sweep appends -1, -2, ...)."),
    project_dir: Path = ProjectOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Run the pipeline as DVC experiment(s) with overridden params (`dvc exp run --set-param`)."""
    from mlctl.cli.output import RichProgress, ok, print_json
    from mlctl.stages.exp import run_experiments

    project, _ = load(project_dir)
    with RichProgress() as bar:
        result = run_experiments(project, set_param or [], name=name, progress=bar)
    if as_json:
        print_json(result.to_dict())
        return
    for r in result.runs:
        ok(f"experiment {r.name or '?'} ({' '.join(r.overrides) or 'no overrides'}) in {r.seconds:.1f}s")
    ok("compare them with `mlctl exp show`")


@exp_app.command("show")
@handled
def exp_show(
    all_params: bool = typer.Option(False, "--all-params", help="Show every param, not only those that differ."),
    sort_by: str = typer.Option(None, "--sort-by", help="Sort experiments by this metric (best first)."),
    ascending: bool = typer.Option(False, "--ascending", help="With --sort-by: smallest first (e.g. for errors)."),
    project_dir: Path = ProjectOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Compare experiments: their params and metrics, from `dvc exp show --json`."""
    from mlctl.cli.output import out, print_json, table
    from mlctl.core.errors import ConfigError
    from mlctl.stages.exp import show_experiments

    project, _ = load(project_dir)
    result = show_experiments(project, all_params=all_params)
    if sort_by:
        if sort_by not in result.metric_columns:
            raise ConfigError(f"no metric {sort_by!r}", where="--sort-by", hint=f"metrics: {result.metric_columns}")
        # Rows without the metric go last whatever the direction.
        present = [r for r in result.rows if isinstance(r.metrics.get(sort_by), (int, float))]
        absent = [r for r in result.rows if r not in present]
        present.sort(key=lambda r: r.metrics[sort_by], reverse=not ascending)
        result.rows = present + absent
    if as_json:
        print_json(result.to_dict())
        return
    columns = ["experiment", "created", *result.param_columns, *result.metric_columns]
    rows = [
        [
            ("└ " if r.kind == "experiment" else "") + r.name,
            r.created,
            *[r.params.get(k) for k in result.param_columns],
            *[r.metrics.get(k) for k in result.metric_columns],
        ]
        for r in result.rows
    ]
    out.print(table("experiments", columns, rows))


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.add_typer(exp_app, name="exp")
