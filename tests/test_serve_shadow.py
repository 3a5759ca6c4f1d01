"""`mlctl serve --shadow`: a second model scores every request off the response path, over real HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import make_frame
from tests.serve_helpers import ThreadServer, build_model, records, serve_config

pytestmark = pytest.mark.slow

N = 80


def metric(text: str, name: str, **labels: str) -> float:
    """One sample of the /metrics page, read with prometheus_client's parser."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise KeyError(f"{name} {labels} not in /metrics")


def offline(built: dict, recs: list[dict]) -> list:
    from mlctl.onnxmodel.runtime import OnnxModel

    model = OnnxModel.load(built["model"], built["manifest_path"])
    return [str(x) for x in model.predict_checked(model.check_records(recs, unknown="missing")).labels]


def without(record: dict, name: str) -> dict:
    return {k: v for k, v in record.items() if k != name}


def knn_model(root: Path) -> dict:
    """A deliberately slow classifier on the same features: nearest neighbours among 30,000 rows (~30 ms a call)."""
    from mlctl.model.estimators import build_pipeline
    from mlctl.model.features import infer_features, to_model_frame
    from mlctl.params.train import PreprocessParams
    from mlctl.stages.export.convert import write_onnx_model

    df = make_frame("classification", n=30_000, seed=5).drop(columns=["signup"])
    features = infer_features(df, "target")
    X = to_model_frame(df, features)
    pipe = build_pipeline("knn", "classification", features, PreprocessParams(), 0)
    pipe.fit(X, df["target"])
    model, manifest_path, _ = write_onnx_model(
        pipe, features, root, task="classification", target="target", X_train=X, name="slow", extra={}
    )
    return {"model": model, "manifest_path": manifest_path}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shadow")
    champion = build_model(tmp / "champion", seed=0)
    shadow = build_model(tmp / "shadow", estimator="logistic_regression", seed=1, name="shadow")
    recs = records(make_frame("classification", n=N, seed=9).drop(columns=["signup"]), slice(0, N))
    return {"tmp": tmp, "champion": champion, "shadow": shadow, "recs": recs}


def run_requests(url: str, recs: list[dict], prefix: str, headers: dict | None = None) -> list[httpx.Response]:
    with httpx.Client(base_url=url, timeout=30) as client:
        return [
            client.post(
                "/predict", json={"instances": [r]}, headers={"X-Request-ID": f"{prefix}{i}", **(headers or {})}
            )
            for i, r in enumerate(recs)
        ]


def read_log(folder: Path) -> pd.DataFrame:
    files = sorted(folder.rglob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def test_shadow_logs_both_answers_for_every_request_and_the_client_sees_the_champion(models, tmp_path):
    from mlctl.serve import create_app

    champion, shadow, recs = models["champion"], models["shadow"], models["recs"]
    config = serve_config(
        champion, tmp_path, shadow_model_path=str(shadow["model"]), shadow_manifest_path=str(shadow["manifest_path"])
    )
    with ThreadServer(create_app(config)) as server:
        answers = run_requests(server.url, recs, "s-")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            page = httpx.get(f"{server.url}/metrics").text
            if metric(page, "mlctl_shadow_requests_total", outcome="scored") == N:
                break
            time.sleep(0.05)
    champ_version = champion["manifest"]["version"]
    shadow_version = shadow["manifest"]["version"]
    assert champ_version != shadow_version
    expected_champion, expected_shadow = offline(champion, recs), offline(shadow, recs)
    assert expected_champion != expected_shadow  # the two models differ on some rows
    for r, label in zip(answers, expected_champion, strict=True):
        assert r.status_code == 200
        body = r.json()
        assert [str(x) for x in body["predictions"]] == [label]
        assert body["model_version"] == champ_version
        assert shadow_version not in r.text and "x-model-version" not in r.headers
    assert metric(page, "mlctl_shadow_requests_total", outcome="scored") == N
    assert metric(page, "mlctl_shadow_requests_total", outcome="error") == 0
    log = read_log(tmp_path / "logs")
    for role, version, expected in (
        ("champion", champ_version, expected_champion),
        ("shadow", shadow_version, expected_shadow),
    ):
        rows = log[log["role"] == role].set_index("request_id")
        assert len(rows) == N and set(rows["model_version"]) == {version}
        assert [str(rows.loc[f"s-{i}", "prediction"]) for i in range(N)] == expected


def test_replay_of_a_log_with_a_shadow_compares_the_champion_rows_only(models, tmp_path):
    """The same request ids appear twice (champion, shadow): replay reads the champion's, counts the rest."""
    import subprocess
    import sys

    from mlctl.serve import create_app
    from tests.conftest import REPO, write_params

    champion, shadow, recs = models["champion"], models["shadow"], models["recs"]
    config = serve_config(
        champion, tmp_path, shadow_model_path=str(shadow["model"]), shadow_manifest_path=str(shadow["manifest_path"])
    )
    with ThreadServer(create_app(config)) as server:
        run_requests(server.url, recs, "r-")
    write_params(tmp_path, {"target": "target", "collect": {"sources": [{"name": "d", "path": "d.csv"}]}})
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlctl",
            "replay",
            "logs",
            "--model",
            str(shadow["model"]),
            "--json",
            "-C",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["log"]["rows"] == N and report["log"]["other_roles"] == {"shadow": N}
    differ = sum(a != b for a, b in zip(offline(champion, recs), offline(shadow, recs), strict=True))
    assert report["agreement"]["disagreements"] == differ


def test_a_failing_or_slow_shadow_changes_nothing_for_the_client(models, tmp_path):
    from mlctl.onnxmodel.runtime import OnnxModel
    from mlctl.serve import create_app
    from mlctl.serve.state import Served

    champion, recs = models["champion"], models["recs"]
    expected = offline(champion, recs)
    # failing: a shadow whose manifest lacks an input its session needs (onnxruntime raises on every call)
    narrow = build_model(tmp_path / "narrow", seed=0, drop=("region",), name="narrow")
    config = serve_config(
        champion,
        tmp_path / "a",
        shadow_model_path=str(narrow["model"]),
        shadow_manifest_path=str(narrow["manifest_path"]),
    )
    app = create_app(config)
    wide = OnnxModel.load(champion["model"], champion["manifest_path"]).session  # takes region too
    broken = Served(OnnxModel(wide, OnnxModel.load(narrow["model"], narrow["manifest_path"]).manifest), "shadow")
    app.state.ctx.shadow.served = broken
    with ThreadServer(app) as server:
        answers = run_requests(server.url, recs, "f-")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            page = httpx.get(f"{server.url}/metrics").text
            failed = [metric(page, "mlctl_shadow_requests_total", outcome=o) for o in ("error", "rejected")]
            if sum(failed) == N:
                break
            time.sleep(0.05)
    assert [r.status_code for r in answers] == [200] * N
    assert [str(r.json()["predictions"][0]) for r in answers] == expected
    # every request reaches onnxruntime, which refuses the feeds (or the validator rejects it): never scored
    errors, rejected = failed
    assert errors > 0 and errors + rejected == N
    assert metric(page, "mlctl_shadow_requests_total", outcome="scored") == 0
    log = read_log(tmp_path / "a" / "logs")
    assert set(log["role"]) == {"champion"} and len(log) == N

    # slow: nearest neighbours and a queue of 4; a burst from 8 clients
    slow = knn_model(tmp_path / "slow")
    slow_model = OnnxModel.load(slow["model"], slow["manifest_path"])
    one = slow_model.check_records(recs[:1], unknown="missing")
    slow_model.predict_checked(one)
    began = time.perf_counter()
    for _ in range(5):
        slow_model.predict_checked(one)
    slow_ms = (time.perf_counter() - began) / 5 * 1000
    config = serve_config(
        champion,
        tmp_path / "b",
        shadow_model_path=str(slow["model"]),
        shadow_manifest_path=str(slow["manifest_path"]),
        shadow_queue=4,
    )
    from concurrent.futures import ThreadPoolExecutor

    with ThreadServer(create_app(config)) as server:
        run_requests(server.url, recs[:5], "w-")  # warm
        with ThreadPoolExecutor(8) as pool:
            chunks = [recs[i::8] for i in range(8)]
            results = list(pool.map(lambda c: timed(server.url, c), chunks))
        deadline = time.monotonic() + 10  # the log's writer hands requests to the shadow once a flush
        while time.monotonic() < deadline:
            page = httpx.get(f"{server.url}/metrics").text
            counted = [metric(page, "mlctl_shadow_requests_total", outcome=o) for o in ("scored", "dropped")]
            if sum(counted) + metric(page, "mlctl_shadow_queue") >= N + 5:  # the warm-up's 5 too
                break
            time.sleep(0.05)
    latencies = np.concatenate([ms for ms, _ in results])
    labels = {label for _, got in results for label in got}
    assert labels <= set(expected) and all(len(got) == len(c) for (_, got), c in zip(results, chunks, strict=True))
    dropped = metric(page, "mlctl_shadow_requests_total", outcome="dropped")
    scored = metric(page, "mlctl_shadow_requests_total", outcome="scored")
    assert dropped > 0 and scored + dropped + metric(page, "mlctl_shadow_queue") == N + 5
    # the client never waits for the shadow: its median answer is faster than one shadow call
    assert np.median(latencies) < slow_ms, (np.median(latencies), slow_ms)


def timed(url: str, recs: list[dict]) -> tuple[np.ndarray, list]:
    ms, labels = [], []
    with httpx.Client(base_url=url, timeout=30) as client:
        for r in recs:
            start = time.perf_counter()
            resp = client.post("/predict", json={"instances": [r]})
            ms.append((time.perf_counter() - start) * 1000)
            assert resp.status_code == 200
            labels.append(str(resp.json()["predictions"][0]))
    return np.array(ms), labels


def test_a_narrower_shadow_scores_a_share_of_requests_whole_from_the_logged_rows(models, tmp_path):
    """A shadow taking a subset of the champion's inputs, multi-row requests, half of them sampled."""
    from mlctl.serve import create_app

    champion, recs = models["champion"], models["recs"]
    narrow = build_model(tmp_path / "narrow", seed=3, drop=("region",), name="narrow")
    config = serve_config(
        champion,
        tmp_path,
        shadow_model_path=str(narrow["model"]),
        shadow_manifest_path=str(narrow["manifest_path"]),
        shadow_share=0.5,
    )
    batches = [recs[i : i + 3] for i in range(0, N, 3)]  # 27 requests of 1 to 3 rows
    with ThreadServer(create_app(config)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        for i, rows in enumerate(batches):
            r = client.post("/predict", json={"instances": rows}, headers={"X-Request-ID": f"m-{i}"})
            assert r.status_code == 200
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            page = client.get("/metrics").text
            done = sum(metric(page, "mlctl_shadow_requests_total", outcome=o) for o in ("scored", "rejected"))
            if done and metric(page, "mlctl_shadow_queue") == 0:
                time.sleep(0.3)  # one more writer cycle: the answers reach the files
                break
            time.sleep(0.05)
    scored = metric(page, "mlctl_shadow_requests_total", outcome="scored")
    assert metric(page, "mlctl_shadow_requests_total", outcome="error") == 0
    assert 3 <= scored <= len(batches) - 3  # a share: not none, not all (binomial, p=0.5, 27 draws)
    log = read_log(tmp_path / "logs")
    shadow_rows = log[log["role"] == "shadow"]
    own = read_log(tmp_path / "logs" / narrow["manifest"]["version"])  # the shadow's files: its inputs only
    assert "region" not in own.columns and own["x1"].notna().any() and set(own["role"]) == {"shadow"}
    assert shadow_rows["request_id"].nunique() == scored
    for request_id, rows in shadow_rows.groupby("request_id", sort=False):
        sent = batches[int(request_id.split("-")[1])]
        assert len(rows) == len(sent)  # a request is scored whole
        assert [str(v) for v in rows["prediction"]] == offline(narrow, [without(r, "region") for r in sent])


def test_a_shadow_needs_the_request_log_and_no_input_the_champion_lacks(models, tmp_path):
    from mlctl.core.errors import ConfigError, ModelError
    from mlctl.serve import create_app

    champion, shadow = models["champion"], models["shadow"]
    paths = {"shadow_model_path": str(shadow["model"]), "shadow_manifest_path": str(shadow["manifest_path"])}
    with pytest.raises(ConfigError, match="needs the request log") as info:
        create_app(serve_config(champion, tmp_path, log_dir=None, **paths))
    assert info.value.where == "serve.log_dir"
    narrow = build_model(tmp_path / "narrow", seed=0, drop=("region",), name="narrow")
    with pytest.raises(ModelError, match=r"takes input\(s\) \['region'\] that the champion does not"):
        create_app(serve_config(narrow, tmp_path, **paths))


def test_the_shadows_plain_feeds_are_the_validators_and_other_tables_take_the_validator(models, tmp_path):
    """Tables of plainly valid rows skip the validator with the same feeds; nulls or unknown categories do not."""
    from mlctl.onnxmodel.runtime import OnnxModel
    from mlctl.serve.logblock import Block
    from mlctl.serve.shadow import Shadow
    from mlctl.serve.state import Served

    champion = Served(OnnxModel.load(models["champion"]["model"], models["champion"]["manifest_path"]))
    shadow = Served(OnnxModel.load(models["shadow"]["model"], models["shadow"]["manifest_path"]), "shadow")
    recs = models["recs"]
    plain = [r for r in recs if all(v is not None and v == v for v in r.values())]
    assert 0 < len(plain) < len(recs)  # the generated rows have some missing values

    def table(rows: list[dict]):
        checked = champion.model.check_records(rows, unknown="missing")
        pred = champion.model.predict_checked(checked)
        block = Block(champion)
        for i in range(len(rows)):
            feeds = {k: v[i : i + 1] for k, v in checked.feeds.items()}
            block.add(
                "/predict", f"t-{i}", 0.0, 1.0, feeds, None, pred.labels[i : i + 1], pred.probabilities[i : i + 1]
            )
        return block.table()

    engine = Shadow(shadow, 1.0, 1000, "missing")
    prepared = engine._prepare(table(plain), len(plain))
    assert engine._plain(table(plain)) is not None and engine._plain(table(recs)) is None
    expected = shadow.model.check_records(plain, unknown="missing").feeds
    for name, feed in prepared[1].items():
        assert feed.dtype == expected[name].dtype and feed.shape == expected[name].shape
        assert [str(v) for v in feed.ravel()] == [str(v) for v in expected[name].ravel()]
    for rows in (plain, recs):
        kept, feeds, requests = engine._prepare(table(rows), len(rows))
        assert requests == kept.num_rows == len(rows)
        assert [str(v) for v in shadow.model.run(feeds).labels] == offline(models["shadow"], rows)
