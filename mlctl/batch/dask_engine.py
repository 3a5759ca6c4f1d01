"""Score partitions on a dask.distributed cluster; the driver writes them in order.

Partitions are planned here (groups of Parquet row groups; one CSV or JSON-lines
file each) and read on the workers with the same readers and the same
``ChunkScorer`` as the local engine, so both engines give the same rows. The
model travels as bytes plus its manifest (scattered once to every worker); each
worker checks the sha256 and opens one onnxruntime session per model, cached.
At most ``2 × workers`` partitions are in flight, so memory stays bounded when
the driver writes slower than the cluster scores. Workers need mlctl installed.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlctl.core.errors import ExternalError, ModelError

if TYPE_CHECKING:
    from mlctl.batch.readers import Inputs
    from mlctl.batch.score import ChunkScorer, Scored
    from mlctl.onnxmodel.runtime import OnnxModel
    from mlctl.params.predict import PredictParams

_MODELS: dict[str, OnnxModel] = {}  # per worker process: sha256 -> model
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Part:
    """One unit of work: a file, and for Parquet the row groups to read from it."""

    path: str
    fmt: str
    row_groups: tuple[int, ...] | None = None


def plan(inputs: Inputs, chunk_rows: int) -> list[Part]:
    """Partitions in input order: Parquet row groups grouped to about ``chunk_rows`` rows."""
    import pyarrow.parquet as pq

    parts = []
    for f in inputs.files:
        if inputs.fmt != "parquet":
            parts.append(Part(str(f), inputs.fmt))
            continue
        meta = pq.ParquetFile(f).metadata
        group, rows = [], 0
        for i in range(meta.num_row_groups):
            group.append(i)
            rows += meta.row_group(i).num_rows
            if rows >= chunk_rows:
                parts.append(Part(str(f), "parquet", tuple(group)))
                group, rows = [], 0
        if group or meta.num_row_groups == 0:
            parts.append(Part(str(f), "parquet", tuple(group)))
    return parts


def worker_model(model_bytes: bytes, manifest: dict) -> OnnxModel:
    """The model on this worker: sha256 checked, one session per process."""
    import onnxruntime as ort

    from mlctl.onnxmodel.runtime import OnnxModel, coded_session, sha256_bytes

    with _LOCK:
        model = _MODELS.get(manifest["sha256"])
        if model is None:
            if sha256_bytes(model_bytes) != manifest["sha256"]:
                raise ModelError("sha256 mismatch on a Dask worker: the model bytes differ from the manifest")
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1  # one thread per Dask worker thread: no oversubscription
            # text as integer codes in and out of onnxruntime, as on the local engine (mlctl.onnxmodel.labelcodes)
            coded = coded_session(model_bytes, manifest, options)
            session = (
                coded[0] if coded else ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
            )
            model = _MODELS[manifest["sha256"]] = OnnxModel(session, manifest)
            if coded:
                model.use_codes(coded[1], coded[2])
    return model


def score_partition(
    part: Part, model_payload: tuple[bytes, dict], passthrough_types: dict, unknown: str, chunk_rows: int
):
    """Score one partition on a worker; row numbers start at 0 (the driver offsets them)."""
    import pyarrow as pa

    from mlctl.batch import readers
    from mlctl.batch.score import ChunkScorer

    model = worker_model(*model_payload)
    scorer = ChunkScorer(model, passthrough_types, unknown)
    path = Path(part.path)
    if part.fmt == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path, pre_buffer=False)  # bounded memory, as in readers
        batches = pf.iter_batches(batch_size=chunk_rows, row_groups=list(part.row_groups or ()), columns=scorer.columns)
        tables = readers._rebatch(batches, chunk_rows)
    else:
        one = readers.Inputs(part.path, (path,), part.fmt)
        tables = readers.iter_tables(one, scorer.kinds, scorer.columns, chunk_rows)
    outputs, rejects, start = [], [], 0
    for table in tables:
        scored = scorer.score(table, start)
        outputs.append(scored.output)
        rejects.append(scored.rejects)
        start += table.num_rows
    out = pa.concat_tables(outputs) if outputs else scorer.schema.empty_table()
    rej = pa.concat_tables(rejects) if rejects else scorer.rejects_schema.empty_table()
    return out, rej, start


def _offset(table, offset: int):
    import pyarrow.compute as pc

    from mlctl.batch.score import ROW

    i = table.schema.get_field_index(ROW)
    return table.set_column(i, ROW, pc.add(table.column(ROW), offset))


def iter_scored(
    inputs: Inputs, model_bytes: bytes, manifest: dict, scorer: ChunkScorer, params: PredictParams
) -> Iterator[Scored]:
    """Yield each partition's result in input order, with row numbers across the whole input."""
    from mlctl.batch.score import Scored

    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ExternalError("the dask engine needs dask[distributed]", hint="pip install 'mlctl[dask]'") from None
    parts = plan(inputs, params.chunk_rows)
    cluster = None
    try:
        if params.scheduler:
            client = Client(params.scheduler, timeout="30s")
        else:
            cluster = LocalCluster(
                n_workers=params.dask_workers, threads_per_worker=1, dashboard_address=None, processes=True
            )
            client = Client(cluster)
    except OSError as exc:
        raise ExternalError(f"cannot reach the Dask scheduler: {exc}", where=str(params.scheduler)) from None
    try:
        payload = client.scatter([(model_bytes, manifest)], broadcast=True)[0]
        passthrough = {c: scorer.schema.field(c).type for c in scorer.passthrough}
        window = 2 * max(1, len(client.scheduler_info().get("workers", {})))
        pending: deque = deque()
        todo = iter(parts)
        offset = 0
        while True:
            while len(pending) < window and (part := next(todo, None)) is not None:
                args = (part, payload, passthrough, scorer.unknown, params.chunk_rows)
                pending.append(client.submit(score_partition, *args, pure=False))
            if not pending:
                break
            future = pending.popleft()
            out, rej, n = future.result()
            future.release()
            yield Scored(_offset(out, offset), _offset(rej, offset), n)
            offset += n
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
