"""Request-log blocks: plain and validator-checked requests become the same Parquet rows."""

from __future__ import annotations

import math

import pytest

from mlctl.onnxmodel.runtime import OnnxModel
from mlctl.serve.logblock import Block
from mlctl.serve.plain import plain_columns, to_feeds
from mlctl.serve.scoring import validate_records
from mlctl.serve.state import Served
from tests.serve_helpers import build_model, records


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    built = build_model(tmp_path_factory.mktemp("block") / "m", "classification")
    served = Served(OnnxModel.load(built["model"], built["manifest_path"]))
    served.frame = built["frame"]
    return served


def test_block_rows_are_what_the_model_saw(served):
    clean = next(r for r in records(served.frame, slice(0, 50)) if None not in r.values())
    odd = [{**clean, "colour": "purple", "x2": None}, {**clean, "colour": None}]  # unknown, null, missing
    block = Block(served)
    plain = plain_columns(served.plan, [clean], 1000)
    pred = served.model.run(to_feeds(served.plan, [plain]))
    block.add("/predict", "r1", 1.0, 2.0, plain, None, pred.labels.tolist(), pred.probabilities.tolist())
    checked, columns = validate_records(served, odd, "missing", 1000, "instances")
    pred2 = served.model.predict_checked(checked)
    raw = {n: columns[n] for n in served.categorical}
    block.add("/invocations", "r2", 3.0, 4.0, checked.feeds, raw, pred2.labels, pred2.probabilities)
    df = block.table().to_pandas()
    assert df["request_id"].tolist() == ["r1", "r2", "r2"]
    assert df["endpoint"].tolist() == ["/predict", "/invocations", "/invocations"]
    assert df["latency_ms"].tolist() == [2.0, 4.0, 4.0]
    assert df["colour"].tolist()[:2] == [clean["colour"], "purple"] and df["colour"].isna()[2]  # unknown as sent
    assert math.isnan(df["x2"][1]) and df["x2"][0] == pytest.approx(clean["x2"], rel=1e-6)
    assert df["x1"][0] == float(to_feeds(served.plan, [plain])["x1"][0, 0])  # float32, as scored
    assert df["prediction"].tolist() == [*pred.labels.tolist(), *pred2.labels.tolist()]
    assert df["proba_yes"].tolist() == [*pred.probabilities[:, 1].tolist(), *pred2.probabilities[:, 1].tolist()]
    block.clear()
    assert len(block) == 0 and block.inputs["x1"] == []


def test_log_steps_run_once_even_when_the_loop_is_stuck(tmp_path, monkeypatch):
    """The writer waits for the loop; if it is stuck, the step runs on the writer, never twice."""
    import asyncio
    import threading
    import time

    from mlctl.serve import requestlog as request_log

    monkeypatch.setattr(request_log, "LOOP_WAIT", 0.05)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        log = request_log.RequestLog(tmp_path, max_rows=10, max_seconds=60, flush_seconds=60)
        log._loop = loop
        ran = []
        assert log.on_loop(lambda: ran.append(threading.current_thread().name) or 1) == 1
        assert ran == [thread.name]  # a free loop runs it
        loop.call_soon_threadsafe(time.sleep, 0.3)  # the loop is busy for a while
        time.sleep(0.02)
        assert log.on_loop(lambda: ran.append(threading.current_thread().name) or 2) == 2
        time.sleep(0.4)  # the loop is free again: the queued call must not run a second time
        assert ran == [thread.name, threading.current_thread().name]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_scored_batch_logs_what_request_by_request_logging_would(tmp_path, task):
    """RequestLog.scored: one step per onnxruntime call, the same rows as one Block.add per request."""
    from mlctl.serve.requestlog import RequestLog

    built = build_model(tmp_path / "m", task)
    served = Served(OnnxModel.load(built["model"], built["manifest_path"]))
    recs = [r for r in records(built["frame"], slice(0, 40)) if None not in r.values()]
    requests = [recs[0:1], recs[1:3], recs[3:4], recs[4:7]]
    parts = [plain_columns(served.plan, r, 1000) for r in requests]
    sizes = [len(r) for r in requests]
    feeds = to_feeds(served.plan, parts)
    pred = served.model.run(feeds)
    log = RequestLog(tmp_path / "logs", max_rows=100, max_seconds=60, flush_seconds=60)
    log.scored(served, [("/predict", f"r{i}", 0.0, None) for i in range(len(requests))], sizes, parts, feeds, pred)
    (block,) = log._blocks
    batched = block.table()

    one_by_one = Block(served)
    start = 0
    for i, (part, n) in enumerate(zip(parts, sizes, strict=True)):
        alone = served.model.run(to_feeds(served.plan, [part]))
        probabilities = None if alone.probabilities is None else alone.probabilities.tolist()
        latency = float(batched["latency_ms"][start].as_py())  # measured when the batch was scored
        stamp = batched["timestamp"][start].as_py().timestamp()
        one_by_one.add("/predict", f"r{i}", stamp, latency, part, None, alone.labels.tolist(), probabilities)
        start += n
    assert batched.equals(one_by_one.table())
    assert batched["request_id"].to_pylist() == ["r0", "r1", "r1", "r2", "r3", "r3", "r3"]


def test_a_scored_batch_with_validated_or_unlogged_requests_logs_request_by_request(served, tmp_path):
    from mlctl.serve.requestlog import RequestLog

    clean = next(r for r in records(served.frame, slice(0, 50)) if None not in r.values())
    odd = {**clean, "colour": "purple"}  # unknown: fed as missing by the validator, logged as sent
    plain = plain_columns(served.plan, [clean], 1000)
    checked, columns = validate_records(served, [odd], "missing", 1000, "instances")
    feeds = to_feeds(served.plan, [plain, plain, checked.feeds])
    pred = served.model.run(feeds)
    log = RequestLog(tmp_path / "logs", max_rows=100, max_seconds=60, flush_seconds=60)
    raw = {n: columns[n] for n in served.categorical}  # as Context.note passes them
    notes = [("/predict", "a", 0.0, None), None, ("/predict", "c", 0.0, raw)]
    log.scored(served, notes, [1, 1, 1], [plain, plain, checked.feeds], feeds, pred)
    df = log._blocks[0].table().to_pandas()
    assert df["request_id"].tolist() == ["a", "c"]  # the request without a note is not logged here
    assert df["colour"].tolist() == [clean["colour"], "purple"]
    assert df["prediction"].tolist() == [pred.labels[0], pred.labels[2]]
