"""Issue 18, item 15: `mlctl run` from a venv that is not activated finds `mlctl` for its stages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, git

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("pyenv", [False, True])
def test_stages_find_mlctl_without_the_interpreters_bin_on_path(tmp_path, pyenv):
    bindir = Path(sys.executable).parent
    assert (bindir / "mlctl").exists(), "the test needs mlctl installed beside this interpreter"
    git(tmp_path, "init", "-q")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=tmp_path, check=True)
    stage = {"cmd": "mlctl --version > version.txt", "outs": ["version.txt"]}
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"hello": stage}}))
    params = {
        "seed": 0,
        "target": "y",
        "task": "classification",
        "collect": {"sources": [{"name": "d", "path": "d.csv"}]},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    # as from cron or a Dockerfile's CMD: /venv/bin/python -m mlctl, the venv's bin directory not on PATH
    path = os.pathsep.join(p for p in ("/usr/bin", "/bin") if Path(p).is_dir())
    env = {**os.environ, "PATH": path, "PYTHONPATH": str(REPO)}
    env.pop("VIRTUAL_ENV", None)
    if pyenv:  # as `pyenv exec` leaves it: DVC then drops the first two entries of PATH (dvc.utils.fix_env)
        fake = tmp_path.parent / "pyenv"
        env.update(PYENV_ROOT=str(fake), PYENV_DIR=str(tmp_path), PYENV_HOOK_PATH=str(fake), PYENV_VERSION="x")
        env["PATH"] = os.pathsep.join([str(bindir), str(fake / "libexec"), path])
    proc = subprocess.run(
        [sys.executable, "-m", "mlctl", "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "version.txt").read_text().strip()
