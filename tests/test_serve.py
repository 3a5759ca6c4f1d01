"""`mlctl serve` over real HTTP: /predict, /invocations, health, metadata, metrics, docs, limits, request log."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pandas as pd
import pytest

from mlctl.onnxmodel.runtime import OnnxModel
from mlctl.serve import create_app
from tests.serve_helpers import ThreadServer, build_model, records, serve_config, sklearn_predict

pytestmark = pytest.mark.slow  # every test here talks to a running server


@pytest.fixture(scope="module")
def clf(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clf")
    built = build_model(tmp / "models", "classification")
    with ThreadServer(create_app(serve_config(built, tmp))) as server:
        yield {**built, "url": server.url, "tmp": tmp, "server": server}


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reg")
    built = build_model(tmp / "models", "regression", estimator="random_forest")
    with ThreadServer(create_app(serve_config(built, tmp, log_dir=None))) as server:
        yield {**built, "url": server.url}


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """Unknown categories rejected; the model has logistic regression inside."""
    tmp = tmp_path_factory.mktemp("strict")
    built = build_model(tmp / "models", "classification", estimator="logistic_regression", seed=1)
    with ThreadServer(create_app(serve_config(built, tmp, unknown_category="reject", log_dir=None))) as server:
        yield {**built, "url": server.url}


def post(url: str, path: str, body, headers: dict | None = None) -> httpx.Response:
    headers = {"content-type": "application/json", **(headers or {})}
    return httpx.post(url + path, content=json.dumps(body), headers=headers)


# -- /predict ------------------------------------------------------------------------------------


def test_predict_classification_matches_sklearn_and_runtime(clf):
    recs = records(clf["frame"], slice(0, 40))
    assert any(r["x2"] is None for r in recs) and any(r["colour"] is None for r in recs)  # missing values served
    r = post(clf["url"], "/predict", {"instances": recs})
    assert r.status_code == 200, r.text
    body = r.json()
    labels, proba = sklearn_predict(clf, recs)
    assert body["predictions"] == list(labels)
    got = np.array([[p[c] for c in ("no", "yes")] for p in body["probabilities"]])
    assert np.abs(got - proba).max() < 1e-4
    model = OnnxModel.load(clf["model"], clf["manifest_path"])
    runtime = model.predict_checked(model.check_records(recs))
    assert body["predictions"] == runtime.labels.tolist()
    assert body["model_version"] == clf["manifest"]["version"]
    assert len(r.headers["x-request-id"]) == 32


def test_predict_regression_matches_sklearn(reg):
    recs = records(reg["frame"], slice(10, 30))
    r = post(reg["url"], "/predict", {"instances": recs})
    assert r.status_code == 200, r.text
    body = r.json()
    labels, _ = sklearn_predict(reg, recs)
    assert np.abs(np.array(body["predictions"]) - labels).max() < 1e-4
    assert "probabilities" not in body


def test_predict_single_row_and_client_request_id(clf):
    rec = records(clf["frame"], slice(0, 1))
    r = post(clf["url"], "/predict", {"instances": rec}, headers={"x-request-id": "client-123"})
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "client-123"


@pytest.mark.parametrize(
    ("change", "loc", "msg"),
    [
        ({"x1": "abc"}, "x1", "expected a number"),
        ({"x1": None}, "x1", "missing value not allowed"),
        ({"region": 3.5}, "region", "expected a string"),  # a number where a category is expected
        ({"colour": ["red"]}, "colour", "expected a string"),
        ({"x2": [None, None]}, "x2", "expected a number"),  # found by fuzzing: numpy made a 2-D array of it
        ({"count": {"a": 1}}, "count", "expected a number"),
        ({"extra_feature": 1}, "extra_feature", "unexpected field"),
        ({"region": "mars"}, "region", "unknown category"),
    ],
)
def test_predict_rejects_bad_fields_per_field(strict, change, loc, msg):
    recs = records(strict["frame"], slice(0, 5))
    recs[3] = {**recs[3], **change}
    r = post(strict["url"], "/predict", {"instances": recs})
    assert r.status_code == 422
    assert {"loc": ["instances", 3, loc], "msg": msg} in r.json()["detail"]


def test_predict_missing_feature_and_unknown_category_as_zeros(clf):
    recs = records(clf["frame"], slice(0, 2))
    del recs[1]["x1"]
    r = post(clf["url"], "/predict", {"instances": recs})
    assert r.status_code == 422
    assert r.json()["detail"] == [{"loc": ["instances", 1, "x1"], "msg": "field required"}]
    recs = records(clf["frame"], slice(0, 1))
    recs[0]["colour"] = "purple"  # serve.unknown_category: ignore → all zeros, as scikit-learn encodes it
    missing = {**recs[0], "colour": None}
    a = post(clf["url"], "/predict", {"instances": recs}).json()
    b = post(clf["url"], "/predict", {"instances": [missing]}).json()
    assert a["probabilities"] != b["probabilities"]  # not the missing level
    _, proba = sklearn_predict(clf, recs)
    assert [a["probabilities"][0][k] for k in ("no", "yes")] == pytest.approx(list(proba[0]), abs=1e-5)


def test_predict_infinite_and_malformed(clf):
    rec = records(clf["frame"], slice(0, 1))[0]
    body = json.dumps({"instances": [rec]}).replace(json.dumps(rec["x1"]), "1e999", 1)
    r = httpx.post(clf["url"] + "/predict", content=body)
    assert r.status_code in (400, 422)
    for bad in (b"{not json", b"", b"[1, 2", b"\xff\xfe"):
        r = httpx.post(clf["url"] + "/predict", content=bad)
        assert r.status_code == 400, bad
        assert "detail" in r.json()
    for shape in ([], {"rows": []}, {"instances": "x"}, {"instances": []}, {"instances": [1, "a"]}, None):
        r = post(clf["url"], "/predict", shape)
        assert r.status_code == 422, shape


def test_errors_are_capped_and_never_echo_the_payload(clf):
    huge = "z" * 300
    recs = [{**r, "x1": huge, huge: 1} for r in records(clf["frame"], slice(0, 50))]
    r = post(clf["url"], "/predict", {"instances": recs})
    assert r.status_code == 422
    assert len(r.content) < 5_000 and huge not in r.text
    assert len(r.json()["detail"]) == 21 and "more errors" in r.json()["detail"][-1]["msg"]


def test_too_many_rows_is_413(clf):
    recs = records(clf["frame"], slice(0, 1)) * 201  # serve_config: max_rows=200
    r = post(clf["url"], "/predict", {"instances": recs})
    assert r.status_code == 413
    assert "max_rows" in r.json()["detail"][0]["msg"]


# -- /invocations (MLflow) -----------------------------------------------------------------------


def test_invocations_every_mlflow_format_answers_like_predict(clf):
    recs = records(clf["frame"], slice(0, 12))
    expected = post(clf["url"], "/predict", {"instances": recs}).json()["predictions"]
    names = list(recs[0])
    formats = [
        {"dataframe_split": {"columns": names, "data": [[r[n] for n in names] for r in recs]}},
        {"dataframe_records": recs},
        {"instances": recs},
        {"inputs": recs},
        {"inputs": {n: [r[n] for r in recs] for n in names}},
    ]
    for payload in formats:
        r = post(clf["url"], "/invocations", payload)
        assert r.status_code == 200, (payload.keys(), r.text)
        assert r.json() == {"predictions": expected}
    csv = pd.DataFrame(recs).to_csv(index=False)
    r = httpx.post(clf["url"] + "/invocations", content=csv, headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == expected


def test_invocations_errors(clf):
    r = post(clf["url"], "/invocations", {"dataframe_split": {"columns": ["x1"], "data": [[1.0]]}})
    assert r.status_code == 422 and r.json()["error_code"] == "BAD_REQUEST"
    assert {"loc": ["dataframe_split", "region"], "msg": "field required"} in r.json()["detail"]
    r = post(clf["url"], "/invocations", {"nothing": []})
    assert r.status_code == 422 and "exactly one of" in r.json()["message"]
    r = httpx.post(clf["url"] + "/invocations", content=b"{bad", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error_code"] == "MALFORMED_REQUEST"
    r = httpx.post(clf["url"] + "/invocations", content=b"x", headers={"content-type": "application/xml"})
    assert r.status_code == 415
    r = httpx.post(clf["url"] + "/invocations", content=b"x1,x2\n1\n", headers={"content-type": "text/csv"})
    assert r.status_code == 400


# -- ops: health, ready, metadata, metrics, docs ---------------------------------------------------


def test_health_ready_metadata(clf):
    assert httpx.get(clf["url"] + "/health").json() == {"status": "ok"}
    r = httpx.get(clf["url"] + "/ready")
    assert r.status_code == 200 and r.json()["model_version"] == clf["manifest"]["version"]
    meta = httpx.get(clf["url"] + "/metadata").json()
    assert meta["sha256"] == clf["manifest"]["sha256"]
    assert meta["metrics"] == {"accuracy": 0.9}
    assert [i["name"] for i in meta["inputs"]] == ["x1", "x2", "count", "flag", "colour", "region"]
    assert meta["classes"] == ["no", "yes"]


def test_metrics_prometheus_text(clf, reg):
    post(clf["url"], "/predict", {"instances": records(clf["frame"], slice(0, 3))})
    post(reg["url"], "/predict", {"instances": records(reg["frame"], slice(0, 3))})
    r = httpx.get(clf["url"] + "/metrics")
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    assert 'mlctl_http_requests_total{endpoint="/predict",method="POST",status="200"}' in text
    assert 'mlctl_http_request_duration_seconds_bucket{endpoint="/predict",le="+Inf"}' in text
    counts = {c: _value(text, f'mlctl_predictions_total{{class="{c}"}}') for c in ("no", "yes")}
    assert sum(counts.values()) >= 3
    assert f'version="{clf["manifest"]["version"]}"' in text and "mlctl_model_ready 1" in text
    reg_text = httpx.get(reg["url"] + "/metrics").text
    assert _value(reg_text, "mlctl_prediction_value_count") >= 3


def _value(text: str, key: str) -> float:
    line = next(ln for ln in text.splitlines() if ln.startswith(key + " "))
    return float(line.rsplit(" ", 1)[1])


def test_openapi_docs_have_examples_from_the_manifest(clf):
    assert httpx.get(clf["url"] + "/docs").status_code == 200
    spec = httpx.get(clf["url"] + "/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    example = body["example"]["instances"][0]
    inputs = {i["name"]: i for i in clf["manifest"]["inputs"]}
    assert example["colour"] == "blue" and example["region"] == "east"  # first categories
    assert example["x2"] == pytest.approx((inputs["x2"]["min"] + inputs["x2"]["max"]) / 2, abs=1e-3)
    assert set(body["schema"]["properties"]["instances"]["items"]["required"]) == set(inputs)
    r = post(clf["url"], "/predict", body["example"])  # the documented example is a valid request
    assert r.status_code == 200


# -- body limit (pure ASGI middleware) ----------------------------------------------------------


def test_body_at_and_over_the_limit(clf):
    limit = 65_536
    base = json.dumps({"instances": records(clf["frame"], slice(0, 1))})
    at = base + " " * (limit - len(base))
    assert len(at) == limit
    assert httpx.post(clf["url"] + "/predict", content=at).status_code == 200
    r = httpx.post(clf["url"] + "/predict", content=at + " ")
    assert r.status_code == 413 and "max_body_bytes" in r.json()["detail"]


def test_chunked_bodies_are_counted(clf):
    base = json.dumps({"instances": records(clf["frame"], slice(0, 1))}).encode()

    def chunks(total: int):
        yield base
        left = total - len(base)
        while left > 0:
            n = min(4096, left)
            yield b" " * n
            left -= n

    r = httpx.post(clf["url"] + "/predict", content=chunks(65_536))
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert r.status_code == 200
    r = httpx.post(clf["url"] + "/predict", content=chunks(2_000_000))
    assert r.status_code == 413


# -- request log --------------------------------------------------------------------------------


def test_request_log_parquet(clf):
    recs = records(clf["frame"], slice(50, 54))
    recs[0]["colour"] = "purple"  # unknown: scored as all zeros, logged as sent
    r = post(clf["url"], "/predict", {"instances": recs}, headers={"x-request-id": "log-check-1"})
    assert r.status_code == 200
    ctx = _ctx(clf)
    ctx.log.close()  # the shutdown flush: everything queued is written and the file renamed
    files = sorted((clf["tmp"] / "logs" / clf["manifest"]["version"]).glob("part-*.parquet"))
    assert files
    df = pd.concat([pd.read_parquet(f) for f in files])
    rows = df[df["request_id"] == "log-check-1"].reset_index(drop=True)
    assert len(rows) == 4
    expected = [
        "request_id",
        "timestamp",
        "model_version",
        "role",
        "endpoint",
        "latency_ms",
        "x1",
        "x2",
        "count",
        "flag",
        "colour",
        "region",
        "prediction",
        "proba_no",
        "proba_yes",
    ]
    assert list(df.columns) == expected
    assert str(rows["timestamp"].dtype).endswith("UTC]")
    assert rows["prediction"].tolist() == r.json()["predictions"]
    assert rows.loc[0, "colour"] == "purple"
    assert np.allclose(rows["x1"], [rec["x1"] for rec in recs], atol=1e-6)
    assert (rows["latency_ms"] > 0).all() and (rows["model_version"] == clf["manifest"]["version"]).all()


def _ctx(server_fixture):
    app = server_fixture["server"].server.config.app
    return app.state.ctx
