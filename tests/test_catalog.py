"""The stage registry is the one declaration: CLI, params, dvc.yaml and docs follow it; overrides reach dvc.yaml."""

from __future__ import annotations

import shutil

import yaml
from conftest import REPO
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.core.catalog import PIPELINE
from mlctl.core.catalog import STAGES as REGISTRY
from mlctl.params import STAGES, Params, parse_params
from mlctl.repo.dvcfile import stages

runner = CliRunner()


def test_params_sections_commands_and_howtos_come_from_the_registry():
    names = [s.name for s in REGISTRY]
    assert names == STAGES
    assert {("validate" if f == "validate_" else f) for f in Params.model_fields} == {"seed", "target", "task", *names}
    commands = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert set(names) <= commands
    for stage in REGISTRY:
        homes = [f"stages/{stage.name}.py", f"stages/{stage.name}/__init__.py", f"{stage.name}/__init__.py"]
        assert any((REPO / "mlctl" / home).exists() for home in homes), stage.name  # serve is a layer of its own
        if stage.howto_page:
            assert (REPO / stage.howto_page).exists(), stage.howto_page
    # replay is a DVC stage only once replay.log names a request log
    assert list(stages("classification")) == [s.name for s in PIPELINE if s.name != "replay"]
    source = {"name": "d", "path": "data/sources/d.csv"}
    logged = parse_params(
        {"target": "t", "collect": {"sources": [source]}, "replay": {"log": "logs/requests/**/*.parquet"}}
    )
    entry = stages("classification", logged)["replay"]
    assert entry["deps"][0] == "logs/requests" and entry["cmd"] == "mlctl replay"


def _project(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    return root


def test_a_path_moved_in_params_moves_in_dvc_yaml(tmp_path):
    root = _project(tmp_path)
    assert runner.invoke(app, ["params", "check", "-C", str(root)]).exit_code == 0
    params = yaml.safe_load((root / "params.yaml").read_text())
    params.setdefault("train", {})["model_dir"] = "artifacts/models"
    (root / "params.yaml").write_text(yaml.safe_dump(params))

    stale = runner.invoke(app, ["params", "check", "-C", str(root)])
    assert stale.exit_code == 2, stale.output
    assert "dvc.yaml does not match" in stale.output and "train" in stale.output and "mlctl params sync" in stale.output

    synced = runner.invoke(app, ["params", "sync", "-C", str(root)])
    assert synced.exit_code == 0, synced.output
    dvc = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    assert "artifacts/models/model.skops" in dvc["train"]["outs"]
    assert {"artifacts/models/train.json": {"cache": False}} in dvc["train"]["metrics"]
    assert runner.invoke(app, ["params", "check", "-C", str(root)]).exit_code == 0


def test_predict_outputs_follow_the_output_name():
    from mlctl.params import parse_params

    params = parse_params(
        {
            "target": "y",
            "collect": {"sources": [{"name": "s", "path": "data/sources/s.csv"}]},
            "predict": {"output": "out/scores.csv"},
        }
    )
    outs = stages("regression", params)["predict"]["outs"]
    assert outs == ["out/scores.csv", "out/scores.rejects.csv", {"out/scores.manifest.json": {"cache": False}}]
