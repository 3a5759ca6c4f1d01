"""`mlctl bundle` and the standalone edge runner (run in an interpreter without mlctl, pandas or sklearn)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from predict_helpers import export_model, make_predict_project, write_frame
from typer.testing import CliRunner

from mlctl.cli import app

# Only these packages are visible to the runner (they are all onnxruntime needs to import).
RUNNER_PACKAGES = ("numpy", "numpy.libs", "onnxruntime")

CHECK_AND_RUN = """
import runpy, sys
for name in ("pandas", "sklearn", "mlctl", "pyarrow"):
    try:
        __import__(name)
    except ImportError:
        pass
    else:
        raise SystemExit(f"{name} is importable: the runner environment is not isolated")
sys.argv = ["run.py", *sys.argv[1:]]
runpy.run_path("run.py", run_name="__main__")
"""


@pytest.fixture(scope="module")
def isolated_path(tmp_path_factory) -> Path:
    """A directory of symlinks to numpy and onnxruntime only: the runner's whole sys.path."""
    import numpy
    import onnxruntime

    site = Path(numpy.__file__).parents[1]
    assert Path(onnxruntime.__file__).parents[1] == site
    iso = tmp_path_factory.mktemp("isolated-site")
    for name in RUNNER_PACKAGES:
        if (site / name).exists():
            (iso / name).symlink_to(site / name)
    return iso


def run_isolated(bundle_dir: Path, iso: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(iso), "PYTHONNOUSERSITE": "1"}
    cmd = [sys.executable, "-s", "-S", "-c", CHECK_AND_RUN, *args]
    return subprocess.run(cmd, cwd=bundle_dir, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    out = {}
    for task in ("classification", "regression"):
        base = tmp_path_factory.mktemp(task)
        exported = export_model(base / "model", task)
        root = make_predict_project(base / "project", exported, passthrough=["id"])
        write_frame(exported.frame, root / "data/processed/test.parquet")
        out[task] = (root, exported)
    return out


def build(root: Path, *args: str) -> dict:
    result = CliRunner().invoke(app, ["bundle", *args, "--json", "-C", str(root)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{") :])


def extract(root: Path, archive: str) -> Path:
    target = root / "extracted"
    with tarfile.open(root / archive) as tar:
        tar.extractall(target, filter="data")
    (bundle_dir,) = target.iterdir()
    return bundle_dir


def test_bundle_contents_and_checksums(projects):
    root, exported = projects["classification"]
    (root / "reports").mkdir(exist_ok=True)
    (root / "reports/model_card.md").write_text("# Model card\n")
    info = build(root)
    archive = root / info["archive"]
    version = exported.manifest["version"]
    assert archive.name == f"model-{version}.tar.gz"
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert Path(f"{archive}.sha256").read_text() == f"{digest}  {archive.name}\n"
    bundle_dir = extract(root, info["archive"])
    names = {p.name for p in bundle_dir.iterdir()}
    expected = {"model.onnx", "model.json", "schema.json", "model_card.md", "run.py", "README.md", "SHA256SUMS"}
    assert expected | {"model.ort", "bundle.json"} <= names
    for line in (bundle_dir / "SHA256SUMS").read_text().splitlines():
        hexdigest, name = line.split("  ")
        assert hashlib.sha256((bundle_dir / name).read_bytes()).hexdigest() == hexdigest
    manifest = json.loads((bundle_dir / "model.json").read_text())
    assert manifest["sha256"] == hashlib.sha256((bundle_dir / "model.onnx").read_bytes()).hexdigest()
    schema = json.loads((bundle_dir / "schema.json").read_text())
    assert [i["name"] for i in schema["inputs"]] == [f.name for f in exported.features]
    assert info["ort"]["parity"]["max_abs_diff"] <= 1e-6


def test_bundle_without_model_card_notes_it_and_reports_quantization(projects):
    root, _ = projects["regression"]
    info = build(root, "--quantize")
    assert any("model card" in n for n in info["notes"])
    quant = info["quantized"]
    assert quant["full_bytes"] > 0 and quant["parity"]["rows"] == 300
    # a random forest has no MatMul/Gemm weights: quantize_dynamic cannot shrink it
    assert quant["included"] is False and any("quantised model not included" in n for n in info["notes"])


def read_runner_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_runner_matches_mlctl_predict_and_sklearn(projects, isolated_path):
    for task, fmt in (("classification", "csv"), ("regression", "json")):
        root, exported = projects[task]
        bundle_dir = extract(root, build(root, "--no-quantize")["archive"])
        df = exported.frame
        assert df["x2"].isna().any() and df["colour"].isna().any()
        if fmt == "csv":
            df.to_csv(bundle_dir / "input.csv", index=False)
        else:
            (bundle_dir / "input.json").write_text(df.to_json(orient="records"))
        proc = run_isolated(bundle_dir, isolated_path, f"input.{fmt}", "--output", "preds.csv")
        assert proc.returncode == 0, proc.stderr
        rows = read_runner_csv(bundle_dir / "preds.csv")
        assert [int(r["row"]) for r in rows] == list(range(len(df)))
        labels, proba = exported.sklearn_predict(df)
        assert CliRunner().invoke(app, ["predict", "-C", str(root)]).exit_code == 0
        batch = pd.read_parquet(root / "data/predictions/test.parquet")
        if task == "classification":
            assert [r["prediction"] for r in rows] == [str(v) for v in labels] == batch["prediction"].tolist()
            cols = [f"proba_{c}" for c in exported.manifest["classes"]]
            got = np.array([[float(r[c]) for c in cols] for r in rows])
            np.testing.assert_allclose(got, proba, atol=1e-4)
            np.testing.assert_allclose(got, batch[cols].to_numpy(), atol=1e-6)
        else:
            got = np.array([float(r["prediction"]) for r in rows])
            np.testing.assert_allclose(got, labels, atol=1e-4)
            np.testing.assert_allclose(got, batch["prediction"].to_numpy(), atol=1e-6)


def test_runner_reports_bad_rows_and_refuses_a_tampered_model(projects, isolated_path, tmp_path):
    root, exported = projects["classification"]
    bundle_dir = extract(root, build(root)["archive"])
    records = exported.frame.head(5).to_dict(orient="records")
    records[1]["x1"] = "abc"
    records[2]["region"] = "moon"  # unknown: all zeros (as scikit-learn scores it) unless --reject-unknown
    del records[3]["colour"]
    (bundle_dir / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    proc = run_isolated(bundle_dir, isolated_path, "in.jsonl")
    assert proc.returncode == 4
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o.get("error") for o in out] == [None, "x1: expected a number", None, "colour: field required", None]
    assert "prediction" in out[2]
    labels, proba = exported.sklearn_predict(pd.DataFrame([records[2]]))
    assert out[2]["prediction"] == str(labels[0])
    cols = [f"proba_{c}" for c in exported.manifest["classes"]]
    np.testing.assert_allclose([float(out[2][c]) for c in cols], proba[0], atol=1e-4)
    proc = run_isolated(bundle_dir, isolated_path, "in.jsonl", "--reject-unknown")
    assert json.loads(proc.stdout.splitlines()[2])["error"] == "region: unknown category"
    with open(bundle_dir / "model.onnx", "ab") as fh:
        fh.write(b"\0")
    proc = run_isolated(bundle_dir, isolated_path, "in.jsonl")
    assert proc.returncode == 8 and "sha256" in proc.stderr
    assert proc.stdout == ""


def test_bundle_needs_an_exported_model(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / "params.yaml").write_text("target: y\ncollect: {sources: [{name: d, path: d.csv}]}\n")
    result = CliRunner().invoke(app, ["bundle", "-C", str(root)])
    assert result.exit_code == 3


def test_bundle_parity_uses_a_seeded_sample_of_at_most_parity_rows(projects, tmp_path):
    """The derived models are compared on bundle.parity_rows rows of a larger parity file, the same rows each time."""
    import shutil

    import yaml

    source, _ = projects["regression"]
    root = tmp_path / "project"
    shutil.copytree(source, root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["bundle"] = {**(params.get("bundle") or {}), "parity_rows": 120}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    first, second = build(root, "--quantize"), build(root, "--quantize")
    assert first["quantized"]["parity"]["rows"] == 120  # of the 300 rows in the file
    assert first["quantized"]["parity"] == second["quantized"]["parity"]
