"""Official clients against a real `mlctl serve` on 127.0.0.1, unmodified: Triton, MLflow, Prometheus, GTO.

No hand-built stand-ins: tritonclient's HTTP client (JSON and binary tensors, binary
outputs, asyncio), MLflow's own ScoringServerClient (DataFrames with NaN and extra
columns), prometheus_client's text parser, and `gto show` on the registry's git tags.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.serve_helpers import free_port, records, sklearn_predict, start_cli_server, wait_http
from tests.test_serve_ops import make_project

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("clients")
    built = make_project(root, max_body_bytes=65_536)
    port = free_port()
    proc = start_cli_server(root, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/health", 60, proc)
        yield {**built, "root": root, "url": url, "port": port, "proc": proc}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def frame(served, rows=slice(0, 12)) -> pd.DataFrame:
    return pd.DataFrame(records(served["frame"], rows))


# MLflow --------------------------------------------------------------------------------------------


def test_mlflow_scoring_client_with_missing_values_and_extra_columns(served):
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    client = ScoringServerClient("127.0.0.1", served["port"])
    client.wait_server_ready(timeout=30)  # polls /ping
    assert client.get_version()
    df = frame(served)
    df.loc[[1, 4], "x2"] = np.nan  # MLflow's client sends these as NaN
    df.loc[2, "colour"] = None
    df.insert(0, "customer_id", range(len(df)))  # whole records: an id and the label ride along
    df["target"] = served["frame"]["target"].iloc[: len(df)].to_numpy()
    got = client.invoke(df).get_predictions()
    expected, _ = sklearn_predict(served, _features(df))
    assert list(np.asarray(got).ravel()) == list(expected)


def _features(df: pd.DataFrame) -> list[dict]:
    clean = df.drop(columns=["customer_id", "target"]).astype(object).where(df.notna(), None)
    return clean.to_dict(orient="records")


def test_mlflow_dump_input_data_as_csv_and_records(served):
    from mlflow.pyfunc.scoring_server import client as mlflow_client

    df = frame(served, slice(0, 5))
    body = mlflow_client.dump_input_data(df)
    r = httpx.post(served["url"] + "/invocations", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    expected, _ = sklearn_predict(served, records(served["frame"], slice(0, 5)))
    assert r.json()["predictions"] == list(expected)
    csv = httpx.post(served["url"] + "/invocations", content=df.to_csv(), headers={"content-type": "text/csv"})
    assert csv.status_code == 200 and csv.json()["predictions"] == list(expected)


# Triton --------------------------------------------------------------------------------------------


def _triton_inputs(served, df: pd.DataFrame, binary: bool):
    import tritonclient.http as th

    inputs = []
    for spec in served["manifest"]["inputs"]:
        name = spec["name"]
        if spec["kind"] == "numeric":
            data = df[name].astype("float32").to_numpy().reshape(-1, 1)
            t = th.InferInput(name, list(data.shape), "FP32")
        else:
            data = np.array([(v or "").encode() for v in df[name]], dtype=np.object_).reshape(-1, 1)
            t = th.InferInput(name, list(data.shape), "BYTES")
        t.set_data_from_numpy(data, binary_data=binary)
        inputs.append(t)
    return inputs


@pytest.mark.parametrize("binary", [False, True])
def test_tritonclient_http_json_and_binary_tensors(served, binary):
    import tritonclient.http as th

    client = th.InferenceServerClient(f"127.0.0.1:{served['port']}")
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("model")
    meta = client.get_model_metadata("model")
    assert [o["name"] for o in meta["outputs"]] == ["label", "probabilities"]
    df = frame(served)
    outputs = [
        th.InferRequestedOutput("label", binary_data=binary),
        th.InferRequestedOutput("probabilities", binary_data=not binary),
    ]
    result = client.infer("model", _triton_inputs(served, df, binary), outputs=outputs)
    labels = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("label").ravel()]
    expected, proba = sklearn_predict(served, records(served["frame"], slice(0, 12)))
    assert labels == list(expected)
    np.testing.assert_allclose(result.as_numpy("probabilities"), proba, atol=1e-5)
    client.close()


def test_tritonclient_asyncio(served):
    import tritonclient.http.aio as tha

    async def main():
        client = tha.InferenceServerClient(f"127.0.0.1:{served['port']}")
        try:
            df = frame(served)
            results = await asyncio.gather(
                *[client.infer("model", _triton_inputs(served, df, binary=i % 2 == 0)) for i in range(6)]
            )
        finally:
            await client.close()
        return results

    expected, _ = sklearn_predict(served, records(served["frame"], slice(0, 12)))
    for result in asyncio.run(main()):
        labels = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("label").ravel()]
        assert labels == list(expected)


def test_tritonclient_reads_the_413_and_400_errors(served):
    import tritonclient.http as th
    from tritonclient.utils import InferenceServerException

    client = th.InferenceServerClient(f"127.0.0.1:{served['port']}")
    big = pd.concat([frame(served)] * 200, ignore_index=True)  # over serve.max_body_bytes
    with pytest.raises(InferenceServerException) as exc:
        client.infer("model", _triton_inputs(served, big, binary=False))
    assert exc.value.status() == "413"
    assert exc.value.message().startswith("request body too large")  # read as an error, not a decoding failure
    bad = th.InferInput("x1", [1, 1], "FP32")
    bad.set_data_from_numpy(np.array([[1.0]], dtype=np.float32))
    with pytest.raises(InferenceServerException) as exc:
        client.infer("model", [bad])
    assert exc.value.status() == "400" and "required" in exc.value.message()
    client.close()


# Prometheus ----------------------------------------------------------------------------------------


def test_prometheus_client_parses_metrics(served):
    from prometheus_client.parser import text_string_to_metric_families

    httpx.post(served["url"] + "/predict", json={"instances": records(served["frame"], slice(0, 2))})
    r = httpx.get(served["url"] + "/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    assert families, r.text[:500]
    samples = [s for f in families.values() for s in f.samples]
    assert any(s.labels.get("endpoint") == "/predict" for s in samples)
    assert all(isinstance(s.value, (int, float)) for s in samples)
    assert "mlctl_model_reloads" in r.text


# GTO -----------------------------------------------------------------------------------------------


def test_gto_show_reads_the_registrys_tags(tmp_path, monkeypatch):
    from mlctl.repo import registry
    from tests.conftest import git
    from tests.test_registry import commit_model, tag_env

    gto = shutil.which("gto")
    assert gto, "gto is part of the test extra"
    tag_env(monkeypatch)
    git(tmp_path, "init", "-q", "-b", "main")
    commit_model(tmp_path, True, "one")
    registry.register(tmp_path, "churn")
    registry.promote(tmp_path, "churn", "latest", "prod")
    commit_model(tmp_path, True, "two")
    registry.register(tmp_path, "churn", bump="minor")
    out = subprocess.run([gto, "show", "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    model = json.loads(out.stdout)["churn"]
    assert model["version"] == "v0.2.0" and model["registered"]
    assert model["stage"]["prod"] == "v0.1.0"
    versions = subprocess.run(
        [gto, "show", "churn", "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    shown = {v["version"]: v for v in json.loads(versions.stdout)}
    assert set(shown) == {"v0.1.0", "v0.2.0"}
    assert [s["stage"] for s in shown["v0.1.0"]["stages"]] == ["prod"]
    assert shown["v0.2.0"]["registrations"][0]["tag"] == "churn@v0.2.0"
    listed = {v.version for v in registry.versions(tmp_path, "churn")}  # mlctl agrees with gto
    assert {f"v{v}" for v in listed} == set(shown)
