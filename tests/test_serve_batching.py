"""Adaptive batching: concurrent /predict requests share onnxruntime calls and get exactly their own answers."""

from __future__ import annotations

import asyncio
import json

import httpx
import numpy as np
import pytest

from mlctl.onnxmodel.runtime import OnnxModel
from mlctl.serve import create_app
from mlctl.serve.batching import LONELY, PROBE, Batcher
from mlctl.serve.plain import plain_columns, to_feeds
from mlctl.serve.state import Served
from tests.serve_helpers import ThreadServer, build_model, records, serve_config

ESTIMATORS = [
    ("classification", "random_forest"),
    ("classification", "logistic_regression"),
    ("classification", "knn"),
    ("regression", "ridge"),
    ("regression", "hist_gradient_boosting"),
]


@pytest.fixture(scope="module", params=ESTIMATORS, ids=lambda p: "-".join(p))
def served(tmp_path_factory, request):
    task, estimator = request.param
    built = build_model(tmp_path_factory.mktemp("batch") / "m", task, estimator=estimator)
    served = Served(OnnxModel.load(built["model"], built["manifest_path"], threads=1))
    served.frame = built["frame"]
    return served


def _feeds(served: Served, recs: list[dict]) -> dict:
    checked = served.model.check_records(recs, unknown="ignore")
    assert checked.ok.all()
    return checked.feeds


def test_requests_in_one_loop_turn_share_one_call_and_get_their_own_rows(served):
    """Every model mlctl exports scores rows independently: batched answers equal lone ones.

    Bit for bit for trees and neighbours; linear models may differ in the last float32 bit
    (a matrix product sums in another order), never in the label.
    """
    recs = records(served.frame, slice(0, 40))
    requests = [recs[i : i + k] for i, k in zip(range(0, 40, 5), (1, 2, 5, 1, 3, 1, 4, 2), strict=True)]
    batcher = Batcher(max_rows=64)

    async def main():
        return await asyncio.gather(*[batcher.score(served, _feeds(served, r), len(r)) for r in requests])

    got = asyncio.run(main())
    assert batcher.calls == 1 and batcher.batched == len(requests)
    for req, pred in zip(requests, got, strict=True):
        alone = served.model.run(_feeds(served, req))
        if alone.labels.dtype.kind == "f":  # regression: a value, same float32 tolerance
            np.testing.assert_array_max_ulp(pred.labels, alone.labels, maxulp=4)
        else:
            assert pred.labels.tolist() == alone.labels.tolist()
        if alone.probabilities is not None:
            np.testing.assert_array_max_ulp(pred.probabilities, alone.probabilities, maxulp=4)


def test_batches_stop_at_max_rows_and_lone_clients_are_not_delayed(served):
    recs = records(served.frame, slice(0, 30))
    batcher = Batcher(max_rows=8)

    async def burst():
        return await asyncio.gather(*[batcher.score(served, _feeds(served, [r]), 1) for r in recs[:20]])

    asyncio.run(burst())
    assert batcher.calls == 3 and batcher.batched == 20  # 8 + 8 + 4 rows

    async def one_at_a_time():
        for r in recs:
            await batcher.score(served, _feeds(served, [r]), 1)

    batcher = Batcher(max_rows=8)
    asyncio.run(one_at_a_time())
    assert batcher.lonely >= LONELY  # nobody to batch with: scored at once, but for the probes
    assert batcher.direct >= len(recs) - LONELY - len(recs) // PROBE - 1
    before = batcher.lonely
    asyncio.run(burst())  # concurrency is back: a probe notices, batching resumes
    assert batcher.lonely < before and batcher.calls >= 1


def test_a_failing_request_in_a_batch_fails_alone(served):
    recs = records(served.frame, slice(0, 3))
    good = [_feeds(served, [r]) for r in recs]
    broken = {k: v.astype(np.float64) if v.dtype == np.float32 else v for k, v in good[0].items()}  # wrong dtype
    batcher = Batcher(max_rows=64)

    async def main():
        jobs = [batcher.score(served, f, 1) for f in (good[0], broken, good[1], good[2])]
        return await asyncio.gather(*jobs, return_exceptions=True)

    out = asyncio.run(main())
    assert isinstance(out[1], Exception)
    for pred, feeds in zip([out[0], *out[2:]], [good[0], *good[1:]], strict=True):
        assert pred.labels.tolist() == served.model.run(feeds).labels.tolist()


@pytest.mark.slow
def test_concurrent_http_clients_get_their_own_answers_and_log_rows(tmp_path):
    """Batched requests are logged once each, per batch, with exactly what each client was answered."""
    import pandas as pd

    built = build_model(tmp_path / "m", "classification")
    served = Served(OnnxModel.load(built["model"], built["manifest_path"]))
    recs = records(built["frame"], slice(0, 120))
    recs[7] = {**recs[7], "colour": "purple"}  # unknown: through the validator, logged as sent
    app = create_app(serve_config(built, tmp_path, log_dir=str(tmp_path / "logs")))
    with ThreadServer(app) as server:

        async def client(i: int, rec: dict) -> tuple[int, dict]:
            async with httpx.AsyncClient(base_url=server.url) as http:
                r = await http.post(
                    "/predict", content=json.dumps({"instances": [rec]}), headers={"x-request-id": f"c{i}"}
                )
                return i, r.json()

        async def main():
            return await asyncio.gather(*[client(i, rec) for i, rec in enumerate(recs)])

        answers = asyncio.run(main())
    # the server has stopped: its log is flushed and closed
    batcher = app.state.ctx.batcher
    assert batcher.calls >= 1 and batcher.batched > batcher.calls  # some requests really were batched
    logged = pd.concat([pd.read_parquet(f) for f in (tmp_path / "logs").rglob("part-*.parquet")])
    logged = logged[logged["request_id"].str.startswith("c")].set_index("request_id")
    assert sorted(logged.index) == sorted(f"c{i}" for i in range(len(recs)))  # each exactly once
    for i, body in answers:
        plain = plain_columns(served.plan, [recs[i]], 1000)
        feeds = to_feeds(served.plan, [plain]) if plain else _feeds(served, [recs[i]])
        alone = served.model.run(feeds)
        assert body["predictions"] == alone.labels.tolist()
        np.testing.assert_array_max_ulp(
            np.array([p["yes"] for p in body["probabilities"]], dtype=np.float32), alone.probabilities[:, 1], maxulp=4
        )
        row = logged.loc[f"c{i}"]
        assert row["prediction"] == body["predictions"][0] and row["endpoint"] == "/predict"
        assert row["proba_yes"] == body["probabilities"][0]["yes"] and row["latency_ms"] > 0
        sent = recs[i]["colour"]
        assert row["colour"] == sent if sent is not None else pd.isna(row["colour"])  # "purple" too: as sent
        for name in ("x1", "x2", "count", "flag"):  # as the model saw them: float32
            sent = recs[i][name]
            assert (np.isnan(row[name]) and sent is None) or row[name] == float(np.float32(sent))
