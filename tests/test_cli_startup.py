"""Start-up: `mlctl <command>` loads only that command; `--help` needs neither pydantic nor the other commands."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import typer
from conftest import REPO
from typer.testing import CliRunner

from mlctl.cli import COMMAND_MODULES, COMMANDS, app, build

runner = CliRunner()
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def _registered(cli: typer.Typer) -> set[str]:
    return {c.name for c in cli.registered_commands} | {g.name for g in cli.registered_groups}


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_each_module_registers_exactly_the_commands_listed_for_it(module):
    assert _registered(build([module])) == {name for name, (m, _) in COMMANDS.items() if m == module}


def test_the_whole_command_line_is_the_listed_commands():
    assert _registered(app) == set(COMMANDS)


def test_root_help_lists_every_command_with_its_declared_summary():
    result = runner.invoke(build([]), ["--help"])
    assert result.exit_code == 0, result.output
    listing = " ".join(result.output.split("Commands:", 1)[1].split())
    for name, (_, summary) in COMMANDS.items():
        assert f"{name} {summary}" in listing, name
    # the same summary is each command's short help wherever it is shown (docs/reference.md)
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    for name, (_, summary) in COMMANDS.items():
        assert root.get_command(ctx, name).get_short_help_str(limit=200) == summary


def _loaded_after(argv: list[str], cwd) -> set[str]:
    code = (
        "import sys\nfrom mlctl.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "print('LOADED', ' '.join(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=ENV).stdout
    return set(out.split("LOADED", 1)[1].split())


@pytest.mark.parametrize(
    "argv, module",
    [
        (["--help"], None),
        (["train", "--help"], "train"),
        (["params", "check", "--help"], "pipeline"),
        (["exp", "--help"], "train"),
        (["run"], "pipeline"),  # parsed, then no project found (in an empty directory): DVC would start here
    ],
)
def test_help_loads_only_its_command_and_no_pydantic(argv, module, tmp_path):
    loaded = _loaded_after(argv, tmp_path)
    assert {m for m in COMMAND_MODULES if f"mlctl.cli.{m}" in loaded} == ({module} if module else set())
    # typer coerces absent parameters through pydantic unless told not to (mlctl.cli.common._CoerceGiven)
    assert not {m for m in loaded if m.split(".")[0] in ("pydantic", "pandas", "sklearn", "dvc")}


@pytest.mark.parametrize(
    "argv", [[], ["a", "b", "-C", "x", "--flag", "--count", "3"], ["--count", "x"], ["--flag=maybe"]]
)
def test_parameters_read_as_typer_alone_makes_them(argv):
    # absent ones are coerced without pydantic (mlctl.cli.common._CoerceGiven): the same values, the same errors
    from mlctl.cli import common

    def parsed(fast: bool) -> tuple[int, dict]:
        seen: dict = {}

        def probe(
            stages: list[str] = typer.Argument(None),
            project_dir: str = common.ProjectOpt,
            flag: bool = False,
            count: int = typer.Option(None, "--count"),
        ):
            seen.update(stages=stages, project_dir=project_dir, flag=flag, count=count)

        cli = typer.Typer(cls=common.Group if fast else None)
        cli.callback()(lambda: None)
        cli.command("probe")(probe)
        if fast:
            common.coerce_given_only(cli)
        result = runner.invoke(cli, ["probe", *argv])
        return result.exit_code, seen

    assert parsed(fast=True) == parsed(fast=False)


def test_shell_completion_sees_every_command(tmp_path):
    env = {**ENV, "_MLCTL_COMPLETE": "complete_bash", "COMP_WORDS": "mlctl params ch", "COMP_CWORD": "2"}
    out = subprocess.run([sys.executable, "-m", "mlctl"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.split() == ["check"], out.stdout + out.stderr
    env.update(COMP_WORDS="mlctl ", COMP_CWORD="1")
    out = subprocess.run([sys.executable, "-m", "mlctl"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert set(out.stdout.split()) >= set(COMMANDS), out.stdout + out.stderr
