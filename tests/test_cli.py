"""The command line as a whole: every command has help, is documented, and exits with documented codes."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import typer
from conftest import REPO, write_params
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.core.errors import EXIT_CODES, EXIT_NOT_FOUND, EXIT_USAGE

runner = CliRunner()


def all_commands() -> list[str]:
    """Every command path, e.g. 'train', 'params check', 'schema infer'."""
    root = typer.main.get_command(app)
    paths: list[str] = []

    def walk(cmd, prefix: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*prefix, name])
        elif prefix:
            paths.append(" ".join(prefix))

    walk(root, [])
    return sorted(paths)


COMMANDS = all_commands()


def test_core_commands_exist():
    for name in ["run", "params check", "params show"]:
        assert name in COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_documented_in_readme(command):
    readme = (REPO / "README.md").read_text()
    assert re.search(rf"`mlctl {re.escape(command)}\b", readme), f"`mlctl {command}` is not in README.md"


def test_every_exit_code_is_documented_in_readme():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for code in EXIT_CODES:
        assert re.search(rf"^\|\s*{code}\s*\|", section, re.M), f"exit code {code} missing from README"


def test_version_and_no_args():
    assert runner.invoke(app, ["--version"]).output.startswith("mlctl ")
    result = runner.invoke(app, [])
    assert "Usage" in result.output


def test_unknown_command_is_usage_error():
    result = runner.invoke(app, ["no-such-command"])
    assert result.exit_code == EXIT_USAGE


def test_params_check_and_show(make_project):
    root = make_project()
    result = runner.invoke(app, ["params", "check", "-C", str(root)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["params", "show", "train", "-C", str(root), "--json"])
    assert result.exit_code == 0, result.output
    assert '"candidates"' in result.output and '"seed": 0' in result.output


def test_params_misspelled_key_names_file_key_and_suggestion(make_project):
    root = make_project(train={"candidats": ["random_forest"]})
    result = runner.invoke(app, ["params", "check", "-C", str(root)])
    assert result.exit_code == EXIT_USAGE
    assert "params.yaml" in result.output
    assert "train.candidats" in result.output
    assert "did you mean 'candidates'" in result.output
    assert "Traceback" not in result.output


def test_params_bad_type_and_range(make_project):
    root = make_project(train={"search": {"cv": 1}}, prepare={"split": {"test_size": "lots"}})
    result = runner.invoke(app, ["params", "check", "-C", str(root)])
    assert result.exit_code == EXIT_USAGE
    assert "train.search.cv" in result.output and "got 1" in result.output
    assert "prepare.split.test_size" in result.output and "'lots'" in result.output


def test_params_json_error_is_machine_readable(make_project):
    import json

    root = make_project(taks="regression")
    result = runner.invoke(app, ["params", "check", "-C", str(root), "--json"])
    assert result.exit_code == EXIT_USAGE
    payload = json.loads(result.stdout.split("\n}\n")[0] + "\n}")
    assert payload["exit_code"] == EXIT_USAGE and "taks" in payload["message"]


def test_no_project_is_not_found(tmp_path):
    result = runner.invoke(app, ["params", "check", "-C", str(tmp_path)])
    assert result.exit_code == EXIT_NOT_FOUND
    assert "params.yaml" in result.output


def test_broken_yaml_is_config_error(tmp_path):
    (tmp_path / "params.yaml").write_text("seed: [1, 2\n")
    result = runner.invoke(app, ["params", "check", "-C", str(tmp_path)])
    assert result.exit_code == EXIT_USAGE
    assert "YAML" in result.output


def test_debug_shows_traceback(tmp_path):
    write_params(tmp_path, {"target": "y", "collect": {"sources": []}})
    plain = runner.invoke(app, ["params", "check", "-C", str(tmp_path)])
    assert plain.exit_code == EXIT_USAGE and "Traceback" not in plain.output
    debug = runner.invoke(app, ["--debug", "params", "check", "-C", str(tmp_path)])
    assert debug.exit_code == EXIT_USAGE and "Traceback" in debug.output


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from mlctl.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pandas', 'sklearn', 'pandera', 'dvc', 'onnx', 'skl2onnx', 'onnxruntime', "
        "'fastapi', 'pyarrow', 'dask') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO).stdout
    assert "HEAVY []" in out, out


def test_repository_dvc_yaml_is_the_generated_one():
    from mlctl.params import load_params
    from mlctl.repo.dvcfile import render

    params = load_params(REPO / "params.yaml")
    assert (REPO / "dvc.yaml").read_text() == render("classification", params), (
        "dvc.yaml is out of date: run `mlctl params sync`"
    )
