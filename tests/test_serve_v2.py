"""The Open Inference Protocol (V2) routes over real HTTP, JSON and binary tensor data."""

from __future__ import annotations

import json
import struct

import httpx
import numpy as np
import pytest

from mlctl.serve import create_app
from tests.serve_helpers import ThreadServer, build_model, records, serve_config, sklearn_predict

pytestmark = pytest.mark.slow  # every test here talks to a running server


@pytest.fixture(scope="module")
def clf(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("v2clf")
    built = build_model(tmp / "models", "classification", name="churn")
    with ThreadServer(create_app(serve_config(built, tmp, log_dir=None))) as server:
        yield {**built, "url": server.url}


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("v2reg")
    built = build_model(tmp / "models", "regression", name="price")
    with ThreadServer(create_app(serve_config(built, tmp, log_dir=None))) as server:
        yield {**built, "url": server.url}


def tensors(built: dict, recs: list[dict], shape_2d: bool = True) -> list[dict]:
    """One tensor per feature, FP32 for numbers (NaN for missing is not JSON: use the BYTES or FP64 path)."""
    out = []
    for f in built["features"]:
        values = [r[f.name] for r in recs]
        shape = [len(recs), 1] if shape_2d else [len(recs)]
        if f.kind == "numeric":
            out.append({"name": f.name, "datatype": "FP64", "shape": shape, "data": [v for v in values]})
        else:
            out.append({"name": f.name, "datatype": "BYTES", "shape": shape, "data": [v or "" for v in values]})
    return out


def infer(url: str, model: str, body: dict, **kw) -> httpx.Response:
    return httpx.post(f"{url}/v2/models/{model}/infer", content=json.dumps(body), **kw)


def complete(recs: list[dict]) -> list[dict]:
    """Rows without missing numerics (JSON numeric tensors cannot carry NaN)."""
    return [r for r in recs if all(v is not None for k, v in r.items() if k not in ("colour",))]


def test_server_and_model_metadata(clf):
    server = httpx.get(clf["url"] + "/v2").json()
    assert server["name"] == "mlctl" and "binary_tensor_data" in server["extensions"]
    assert httpx.get(clf["url"] + "/v2/health/live").status_code == 200
    assert httpx.get(clf["url"] + "/v2/health/ready").status_code == 200
    version = clf["manifest"]["version"]
    for path in ("/v2/models/churn", f"/v2/models/churn/versions/{version}"):
        meta = httpx.get(clf["url"] + path).json()
        assert meta["name"] == "churn" and meta["versions"] == [version] and meta["platform"] == "onnx"
        assert {"name": "colour", "datatype": "BYTES", "shape": [-1, 1]} in meta["inputs"]
        assert {"name": "x1", "datatype": "FP32", "shape": [-1, 1]} in meta["inputs"]
        assert [o["name"] for o in meta["outputs"]] == ["label", "probabilities"]
    assert httpx.get(clf["url"] + "/v2/models/churn/ready").json() == {"name": "churn", "ready": True}
    assert httpx.get(clf["url"] + "/v2/models/other").status_code == 404
    r = httpx.get(clf["url"] + "/v2/models/churn/versions/nope")
    assert r.status_code == 404 and "error" in r.json()


def test_infer_json_per_feature_tensors(clf):
    recs = complete(records(clf["frame"], slice(0, 30)))
    for shape_2d in (True, False):
        body = {"id": "req-1", "inputs": tensors(clf, recs, shape_2d)}
        r = infer(clf["url"], "churn", body)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["model_name"] == "churn" and out["id"] == "req-1"
        label, proba = out["outputs"]
        labels, p = sklearn_predict(clf, recs)
        assert label["datatype"] == "BYTES" and label["shape"] == [len(recs)] and label["data"] == list(labels)
        assert proba["datatype"] == "FP32" and proba["shape"] == [len(recs), 2]
        assert np.abs(np.array(proba["data"]).reshape(-1, 2) - p).max() < 1e-4


def test_infer_single_2d_bytes_tensor(clf):
    recs = records(clf["frame"], slice(0, 8))
    names = [f.name for f in clf["features"]]
    data = [["" if r[n] is None else str(r[n]) for n in names] for r in recs]
    body = {"inputs": [{"name": "input", "datatype": "BYTES", "shape": [len(recs), len(names)], "data": data}]}
    r = infer(clf["url"], "churn", body)
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == list(sklearn_predict(clf, recs)[0])


def test_infer_regression_versioned_route(reg):
    recs = complete(records(reg["frame"], slice(0, 10)))
    version = reg["manifest"]["version"]
    r = httpx.post(
        f"{reg['url']}/v2/models/price/versions/{version}/infer",
        json={"inputs": tensors(reg, recs), "outputs": [{"name": "label"}]},
    )
    assert r.status_code == 200, r.text
    (label,) = r.json()["outputs"]
    assert label["datatype"] == "FP32"
    assert np.abs(np.array(label["data"]) - sklearn_predict(reg, recs)[0]).max() < 1e-4


def _encode(datatype: str, values) -> bytes:
    if datatype == "BYTES":
        return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)
    dtype = {"FP32": "<f4", "FP64": "<f8", "INT64": "<i8", "BOOL": "?"}[datatype]
    return np.asarray(values, dtype=dtype).tobytes()


def _decode(datatype: str, raw: bytes, n: int):
    if datatype == "BYTES":
        out, pos = [], 0
        while pos < len(raw):
            (k,) = struct.unpack_from("<I", raw, pos)
            out.append(raw[pos + 4 : pos + 4 + k].decode())
            pos += 4 + k
        return out
    return np.frombuffer(raw, dtype="<f4").tolist()


def test_binary_tensor_data_both_directions(clf):
    recs = records(clf["frame"], slice(0, 25))  # includes missing numerics: NaN travels in binary FP32
    types = {"x1": "FP32", "x2": "FP32", "count": "INT64", "flag": "BOOL", "colour": "BYTES", "region": "BYTES"}
    inputs, chunks = [], []
    for name, datatype in types.items():
        values = [r[name] for r in recs]
        if datatype == "BYTES":
            values = [v or "" for v in values]
        elif datatype == "FP32":
            values = [np.nan if v is None else v for v in values]
        raw = _encode(datatype, values)
        chunks.append(raw)
        inputs.append(
            {"name": name, "datatype": datatype, "shape": [len(recs)], "parameters": {"binary_data_size": len(raw)}}
        )
    header = json.dumps({"inputs": inputs, "parameters": {"binary_data_output": True}}).encode()
    r = httpx.post(
        clf["url"] + "/v2/models/churn/infer",
        content=header + b"".join(chunks),
        headers={"Inference-Header-Content-Length": str(len(header)), "content-type": "application/octet-stream"},
    )
    assert r.status_code == 200, r.text
    n = int(r.headers["inference-header-content-length"])
    head = json.loads(r.content[:n])
    rest = r.content[n:]
    decoded = {}
    for out in head["outputs"]:
        size = out["parameters"]["binary_data_size"]
        assert "data" not in out
        decoded[out["name"]] = _decode(out["datatype"], rest[:size], out["shape"][0])
        rest = rest[size:]
    assert rest == b""
    labels, proba = sklearn_predict(clf, recs)
    assert decoded["label"] == list(labels)
    assert np.abs(np.array(decoded["probabilities"]).reshape(-1, 2) - proba).max() < 1e-4
    # a JSON request may ask for one output in binary only
    body = {
        "inputs": tensors(clf, complete(recs)),
        "outputs": [{"name": "label", "parameters": {"binary_data": True}}, {"name": "probabilities"}],
    }
    r = infer(clf["url"], "churn", body)
    n = int(r.headers["inference-header-content-length"])
    head = json.loads(r.content[:n])
    assert head["outputs"][1]["data"] and "data" not in head["outputs"][0]


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda b: b["inputs"].pop(0), "x1"),
        (lambda b: b["inputs"][0].update(datatype="BYTES", data=["a"] * len(b["inputs"][0]["data"])), "numeric"),
        (lambda b: b["inputs"][0].update(shape=[999, 1]), "values for shape"),
        (lambda b: b["inputs"][0].update(datatype="FP128"), "datatype"),
        (lambda b: b["inputs"][5].update(data=["mars"] * len(b["inputs"][5]["data"])), None),
        (lambda b: b["inputs"].append({**b["inputs"][0], "name": "zzz"}), "zzz"),
        (lambda b: b.update(inputs="nope"), "inputs"),
        (lambda b: b.update(outputs=[{"name": "nope"}]), "output"),
    ],
)
def test_infer_errors_are_400_with_error_body(clf, mutate, needle):
    body = {"inputs": tensors(clf, complete(records(clf["frame"], slice(0, 4))))}
    mutate(body)
    r = infer(clf["url"], "churn", body)
    if needle is None:  # unknown category with unknown_category=missing: scored, not an error
        assert r.status_code == 200
        return
    assert r.status_code == 400, r.text
    assert needle in r.json()["error"]


def test_infer_malformed_and_unknown_model(clf):
    assert infer(clf["url"], "nope", {"inputs": []}).status_code == 404
    r = httpx.post(clf["url"] + "/v2/models/churn/infer", content=b"{oops")
    assert r.status_code == 400 and "error" in r.json()
    r = httpx.post(
        clf["url"] + "/v2/models/churn/infer",
        content=b'{"inputs": []}',
        headers={"Inference-Header-Content-Length": "999"},
    )
    assert r.status_code == 400
    header = (
        b'{"inputs": [{"name": "colour", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 8}}]}'
    )
    r = httpx.post(
        clf["url"] + "/v2/models/churn/infer",
        content=header + b"\x10\x00\x00\x00abcd",
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    assert r.status_code == 400 and "BYTES" in r.json()["error"]
