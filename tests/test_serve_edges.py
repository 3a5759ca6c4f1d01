"""Issue 18: inputs that gave a 5xx or a wrong error code, MLflow compatibility, unknown categories.

A real uvicorn server on 127.0.0.1 (ThreadServer) and httpx; each test names its item of the issue.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib

import httpx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlctl.serve import create_app
from tests.serve_helpers import ThreadServer, build_model, records, serve_config

pytestmark = pytest.mark.slow
TOKEN = "edge-token"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_model(tmp_path_factory.mktemp("edges") / "models", "classification")


@pytest.fixture(scope="module")
def server(built, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("srv")
    with ThreadServer(create_app(serve_config(built, tmp, log_dir=None))) as srv:
        yield srv


@pytest.fixture(scope="module")
def lenient(built, tmp_path_factory):
    """serve.extra_fields: ignore, serve.unknown_category: ignore."""
    tmp = tmp_path_factory.mktemp("srv2")
    config = serve_config(built, tmp, log_dir=None, extra_fields="ignore", unknown_category="ignore")
    with ThreadServer(create_app(config)) as srv:
        yield srv


def rec(built, i: int = 0) -> dict:
    return records(built["frame"], slice(i, i + 1))[0]


def infer(url: str, body, **kw) -> httpx.Response:
    return httpx.post(url + "/v2/models/model/infer", json=body, **kw)


# 1 ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [{}, ["label"], 3, None])
def test_v2_outputs_with_a_name_that_is_not_a_string_is_a_400(server, name):
    r = infer(server.url, {"inputs": [], "outputs": [{"name": name}]})
    assert r.status_code == 400 and "error" in r.json()


def test_v2_empty_inputs_is_a_400(server, built):
    r = infer(server.url, {"inputs": []})
    assert r.status_code == 400


# 2 ------------------------------------------------------------------------------------------------


def test_csv_field_longer_than_the_csv_modules_limit_is_a_4xx(server, built):
    names = list(rec(built))
    row = ["x" * 140_000] + ["1"] * (len(names) - 1)
    body = ",".join(names) + "\n" + ",".join(row) + "\n"
    r = httpx.post(server.url + "/invocations", content=body.encode(), headers={"content-type": "text/csv"}, timeout=30)
    assert r.status_code in (400, 413, 422), r.text
    assert "error_code" in r.json()


# 4 ------------------------------------------------------------------------------------------------


def test_body_limit_answers_in_each_protocols_error_shape(server):
    big = b"{" + b" " * 70_000 + b"}"
    v2 = httpx.post(server.url + "/v2/models/model/infer", content=big, headers={"content-type": "application/json"})
    assert v2.status_code == 413 and set(v2.json()) == {"error"}
    inv = httpx.post(server.url + "/invocations", content=big, headers={"content-type": "application/json"})
    assert inv.status_code == 413 and set(inv.json()) == {"error_code", "message"}
    pred = httpx.post(server.url + "/predict", content=big, headers={"content-type": "application/json"})
    assert pred.status_code == 413 and "detail" in pred.json()


# 5, 7 ---------------------------------------------------------------------------------------------


def test_invocations_accepts_nan_as_missing_and_ignores_extra_columns(server, built):
    r0, r1 = rec(built, 0), rec(built, 1)
    r0["x2"] = None
    columns = ["id", *r0, "target"]
    data = [[7, *r0.values(), "yes"], [8, *r1.values(), "no"]]
    body = json.dumps({"dataframe_split": {"columns": columns, "data": data}}).replace("null", "NaN")
    assert "NaN" in body
    r = httpx.post(server.url + "/invocations", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    assert len(r.json()["predictions"]) == 2
    assert set(r.headers["x-ignored-fields"].split(",")) == {"id", "target"}


def test_invocations_csv_with_the_index_column_of_to_csv(server, built):
    df = pd.DataFrame(records(built["frame"], slice(0, 3)))
    r = httpx.post(server.url + "/invocations", content=df.to_csv(), headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    assert len(r.json()["predictions"]) == 3


def test_predict_extra_fields_policy(server, lenient, built):
    record = {**rec(built), "customer_id": 42}
    strict = httpx.post(server.url + "/predict", json={"instances": [record]})
    assert strict.status_code == 422 and "unexpected field" in strict.text
    ok = httpx.post(lenient.url + "/predict", json={"instances": [record]})
    assert ok.status_code == 200, ok.text
    assert ok.json()["ignored_fields"] == ["customer_id"]
    clean = httpx.post(lenient.url + "/predict", json={"instances": [rec(built)]})
    assert "ignored_fields" not in clean.json()
    assert clean.json()["predictions"] == ok.json()["predictions"]


# 6 ------------------------------------------------------------------------------------------------


def test_ping_and_version(server):
    assert httpx.get(server.url + "/ping").status_code == 200
    v = httpx.get(server.url + "/version")
    assert v.status_code == 200 and v.text


# 8 ------------------------------------------------------------------------------------------------


def test_invocations_parquet_body(server, built):
    df = pd.DataFrame(records(built["frame"], slice(0, 4)))
    df["row_id"] = range(4)
    buf = io.BytesIO()
    df.to_parquet(buf)
    r = httpx.post(
        server.url + "/invocations", content=buf.getvalue(), headers={"content-type": "application/vnd.apache.parquet"}
    )
    assert r.status_code == 200, r.text
    expected = httpx.post(server.url + "/predict", json={"instances": records(built["frame"], slice(0, 4))})
    assert r.json()["predictions"] == expected.json()["predictions"]
    parquet = {"content-type": "application/x-parquet"}
    bad = httpx.post(server.url + "/invocations", content=b"PAR1junk", headers=parquet)
    assert bad.status_code == 400


# 9 ------------------------------------------------------------------------------------------------


def _non_nullable_categorical(built) -> str:
    specs = built["manifest"]["inputs"]
    return next(s["name"] for s in specs if s["kind"] == "categorical" and not s.get("nullable", True))


def test_unknown_category_is_encoded_as_all_zeros_not_as_missing(lenient, built):
    """ignore: scikit-learn's OneHotEncoder(handle_unknown="ignore"), whatever the missing level."""
    pipe = built["pipeline"]
    record = rec(built)
    for name in [s["name"] for s in built["manifest"]["inputs"] if s["kind"] == "categorical"]:
        row = {**record, name: "maybe"}
        r = httpx.post(lenient.url + "/predict", json={"instances": [row]})
        assert r.status_code == 200, r.text
        from tests.serve_helpers import sklearn_predict

        labels, proba = sklearn_predict(built, [row])
        assert r.json()["predictions"] == list(labels)
        got = [r.json()["probabilities"][0][str(c)] for c in pipe.classes_]
        np.testing.assert_allclose(got, proba[0], atol=1e-5)


def test_unknown_category_reject_and_numbers_are_type_errors(server, lenient, built):
    name = _non_nullable_categorical(built)
    row = {**rec(built), name: "maybe"}
    r = httpx.post(server.url + "/predict", json={"instances": [row]})  # the fixture uses unknown_category=ignore
    assert r.status_code == 200
    for srv in (server, lenient):
        r = httpx.post(srv.url + "/predict", json={"instances": [{**rec(built), name: 5}]})
        assert r.status_code == 422 and "expected a string" in r.text
        r = httpx.post(srv.url + "/predict", json={"instances": [{**rec(built), name: None}]})
        assert r.status_code == 422 and "missing value" in r.text


def test_unknown_category_reject(built, tmp_path):
    config = serve_config(built, tmp_path, log_dir=None, unknown_category="reject")
    name = _non_nullable_categorical(built)
    with ThreadServer(create_app(config)) as srv:
        r = httpx.post(srv.url + "/predict", json={"instances": [{**rec(built), name: "maybe"}]})
        assert r.status_code == 422 and "unknown category" in r.text
        spec = httpx.get(srv.url + "/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "enum" in json.dumps(body["properties"]["instances"]["items"]["properties"][name])


def test_openapi_documents_v2_and_metrics(server):
    spec = httpx.get(server.url + "/openapi.json").json()
    infer_body = spec["paths"]["/v2/models/{model_name}/infer"]["post"]["requestBody"]["content"]
    schema = infer_body["application/json"]["schema"]
    assert schema["properties"]["inputs"]["minItems"] == 1
    assert schema["properties"]["outputs"]["items"]["properties"]["name"]["enum"] == ["label", "probabilities"]
    assert list(spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]


def test_serve_params_take_the_old_policy_name():
    from mlctl.params.serve import ServeParams

    assert ServeParams(unknown_category="missing").unknown_category == "ignore"


# 16 -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bodies_are_decoded(server, built, encoding):
    raw = json.dumps({"instances": [rec(built)]}).encode()
    body = gzip.compress(raw) if encoding == "gzip" else zlib.compress(raw)
    r = httpx.post(
        server.url + "/predict",
        content=body,
        headers={"content-type": "application/json", "content-encoding": encoding},
    )
    assert r.status_code == 200, r.text


def test_compressed_bodies_count_their_decoded_size(server, built):
    raw = json.dumps({"instances": [rec(built)] * 600}).encode()
    assert len(raw) > 65_536 > len(gzip.compress(raw))
    r = httpx.post(
        server.url + "/invocations",
        content=gzip.compress(raw),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert r.status_code == 413 and "error_code" in r.json()
    gz = {"content-type": "application/json", "content-encoding": "gzip"}
    r = httpx.post(server.url + "/predict", content=b"not gzip", headers=gz)
    assert r.status_code == 400
    r = httpx.post(server.url + "/predict", content=b"x", headers={"content-encoding": "br"})
    assert r.status_code == 415


def test_duplicate_csv_header_is_rejected(server, built):
    names = list(rec(built))
    values = [str(v) if v is not None else "" for v in rec(built).values()]
    body = ",".join([*names, names[0]]) + "\n" + ",".join([*values, values[0]]) + "\n"
    r = httpx.post(server.url + "/invocations", content=body, headers={"content-type": "text/csv"})
    assert r.status_code == 400 and "duplicate" in r.text


def test_text_plain_bodies_are_415(server, built):
    body = json.dumps({"instances": [rec(built)]})
    r = httpx.post(server.url + "/predict", content=body, headers={"content-type": "text/plain"})
    assert r.status_code == 415
    v2 = {"inputs": [{"name": "x1", "shape": [1], "datatype": "FP32", "data": [1.0]}]}
    text = {"content-type": "text/plain"}
    r = httpx.post(server.url + "/v2/models/model/infer", content=json.dumps(v2), headers=text)
    assert r.status_code == 415 and "error" in r.json()


# 3 ------------------------------------------------------------------------------------------------

BROKEN = [b"null", b'"a string"', b"\xff\xfe{", b'{"sha256": "x", "task": "classification", "inputs": 42}']


@pytest.mark.parametrize("content", [*BROKEN, "no-kind"])
def test_malformed_manifest_reload_is_409(built, tmp_path, monkeypatch, content):
    import shutil

    models = tmp_path / "m"
    shutil.copytree(built["model"].parent, models)
    manifest = models / built["manifest_path"].name
    config = serve_config({"model": models / built["model"].name, "manifest_path": manifest}, tmp_path, log_dir=None)
    monkeypatch.setenv("MLCTL_ADMIN_TOKEN", TOKEN)
    with ThreadServer(create_app(config)) as srv:
        if content == "no-kind":
            data = json.loads(manifest.read_text())
            del data["inputs"][0]["kind"]
            manifest.write_text(json.dumps(data))
        else:
            manifest.write_bytes(content)
        r = httpx.post(srv.url + "/admin/reload", headers={"authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert r.status_code == 409, r.text
        assert httpx.get(srv.url + "/ready").status_code == 200


@pytest.mark.parametrize("content", BROKEN)
def test_malformed_manifest_serve_exits_8(tmp_path, monkeypatch, content):
    from mlctl.cli import app as cli
    from tests.test_serve_ops import make_project

    built = make_project(tmp_path)
    built["manifest_path"].write_bytes(content)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["serve"])
    assert r.exit_code == 8, r.output
