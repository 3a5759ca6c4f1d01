"""`mlctl predict`: score CSV/Parquet/JSON-lines files with the exported ONNX model, in chunks.

Outputs (all written atomically, only when the whole job succeeds):

- ``predict.output``: ``row_number`` (0-based across the whole input), the
  passthrough columns, ``prediction`` and, for classifiers, ``proba_<class>``;
- the rejects file (``<stem>.rejects.<ext>`` beside it unless ``predict.rejects``):
  ``row_number``, ``reason`` and the row's values as text, for every row that
  failed the model's input schema;
- the run manifest ``<stem>.manifest.json``: row counts, model name/version/sha256,
  the input fingerprint (sha256 of the input files' bytes, or of each file's
  (path, size, mtime) when the input exceeds 512 MiB), paths and duration.

``rows_in == rows_scored + rows_rejected`` is checked; a reject share above
``predict.max_reject_share`` fails the job (exit 4) with no output written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from mlctl.batch import readers
from mlctl.batch.score import PREDICTION, ROW, ChunkScorer, Scored, frozen_gc, proba_columns
from mlctl.batch.writers import Encoded, TableWriter
from mlctl.core.errors import ConfigError, DataValidationError, MlctlError
from mlctl.core.fileio import atomic_path, table_format, write_json
from mlctl.core.progress import NoProgress, Progress
from mlctl.core.project import Project
from mlctl.params import Common
from mlctl.params.predict import PredictParams


@dataclass
class PredictResult:
    """What a batch job did: counts, where the files went, how fast."""

    output: str
    rejects: str
    manifest: str
    rows_in: int
    rows_scored: int
    rows_rejected: int
    reject_share: float
    seconds: float
    rows_per_second: float
    engine: str
    model: dict
    input: dict

    def to_dict(self) -> dict:
        return asdict(self)


def output_paths(params: PredictParams, project: Project) -> tuple[Path, Path, Path]:
    """The output, rejects and run-manifest paths."""
    output = project.path(params.output, what="output")
    fmt = table_format(output)
    stem = output.name[: -len("".join(output.suffixes))] if output.suffixes else output.name
    ext = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}[fmt]
    rejects = (
        project.path(params.rejects, what="rejects") if params.rejects else output.with_name(f"{stem}.rejects{ext}")
    )
    table_format(rejects)
    return output, rejects, output.with_name(f"{stem}.manifest.json")


def run(params: PredictParams, common: Common, project: Project, progress: Progress | None = None) -> PredictResult:
    """Score ``params.input`` into ``params.output`` with the local or the Dask engine."""
    from mlctl.onnxmodel.runtime import OnnxModel

    progress = progress or NoProgress()
    started = time.perf_counter()
    model_path = project.path(params.model, what="model")
    manifest = project.path(params.manifest, what="manifest")
    output, rejects, manifest_path = output_paths(params, project)
    inputs = readers.resolve(project, params.input)
    # one onnxruntime thread per call: the local engine runs a call per core at once; text in
    # and out of onnxruntime as integer codes: no Python string per row (mlctl.onnxmodel.labelcodes)
    model = OnnxModel.load(model_path, manifest, threads=1, codes=True)
    if output in inputs.files or rejects in inputs.files:
        raise ConfigError("the output would overwrite an input file", where=str(output), hint="choose another output")
    reserved = {ROW, PREDICTION, *proba_columns(model)}
    if clash := sorted(reserved & set(params.passthrough)):
        raise ConfigError(f"passthrough column(s) {clash} clash with output columns", where="predict.passthrough")
    types, total = readers.check(inputs, model.input_names, list(params.passthrough))
    # hashed on a thread while the job runs (hashlib releases the GIL); needed only for the manifest
    fingerprinting = ThreadPoolExecutor(1, thread_name_prefix="mlctl-fingerprint")
    fingerprint_future = fingerprinting.submit(readers.fingerprint, inputs, project.root)
    fingerprinting.shutdown(wait=False)
    scorer = ChunkScorer(model, types, params.unknown_category)

    counts = {"in": 0, "scored": 0, "rejected": 0}
    progress.start(f"scoring {len(inputs.files)} {inputs.fmt} file(s)", total=total)
    try:
        with frozen_gc(), atomic_path(output) as out_tmp, atomic_path(rejects) as rej_tmp:
            with (
                TableWriter(out_tmp, table_format(output), scorer.schema) as out_writer,
                TableWriter(rej_tmp, table_format(rejects), scorer.rejects_schema) as rej_writer,
            ):

                def finish(scored: Scored) -> Finished:
                    return Finished(scored, out_writer.encode(scored.output), rej_writer.encode(scored.rejects))

                if params.engine == "dask":
                    from mlctl.batch.dask_engine import iter_scored

                    scored = iter_scored(inputs, model_path.read_bytes(), model.manifest, scorer, params)
                    chunks = _finished(scored, finish)
                else:
                    chunks = _iter_local(inputs, scorer, params.chunk_rows, finish)
                with contextlib.closing(chunks):
                    for done in chunks:
                        out_writer.write_encoded(done.output)
                        rej_writer.write_encoded(done.rejects)
                        counts["in"] += done.scored.rows_in
                        counts["scored"] += done.scored.output.num_rows
                        counts["rejected"] += done.scored.rejects.num_rows
                        progress.advance(done.scored.rows_in)
            _check_accounting(counts, out_writer.rows, rej_writer.rows)
            share = counts["rejected"] / counts["in"] if counts["in"] else 0.0
            if share > params.max_reject_share:
                raise DataValidationError(
                    f"{counts['rejected']} of {counts['in']} rows ({share:.1%}) failed the model's input schema, "
                    f"above predict.max_reject_share {params.max_reject_share:.1%}; nothing was written",
                    where=params.input,
                    report={"rows_in": counts["in"], "rows_rejected": counts["rejected"], "reject_share": share},
                    hint="run with a higher max_reject_share to get the rejects file and see the reasons",
                )
    finally:
        progress.done()

    seconds = time.perf_counter() - started
    result = PredictResult(
        output=project.rel(output),
        rejects=project.rel(rejects),
        manifest=project.rel(manifest_path),
        rows_in=counts["in"],
        rows_scored=counts["scored"],
        rows_rejected=counts["rejected"],
        reject_share=share,
        seconds=round(seconds, 3),
        rows_per_second=round(counts["in"] / seconds, 1) if seconds > 0 else 0.0,
        engine=params.engine,
        model={"name": model.name, "version": model.version, "sha256": model.sha256, "path": project.rel(model_path)},
        input={
            "spec": params.input,
            "format": inputs.fmt,
            "files": [project.rel(f) for f in inputs.files],
            "fingerprint": fingerprint_future.result(),
        },
    )
    write_json(
        manifest_path,
        {
            **result.to_dict(),
            "passthrough": list(params.passthrough),
            "unknown_category": params.unknown_category,
            "chunk_rows": params.chunk_rows,
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
    )
    return result


def _check_accounting(counts: dict[str, int], written: int, rejected: int) -> None:
    """Every input row is either scored or rejected, and exactly what was counted was written."""
    if (
        counts["in"] != counts["scored"] + counts["rejected"]
        or written != counts["scored"]
        or rejected != counts["rejected"]
    ):
        raise MlctlError(
            f"row accounting failed: rows_in={counts['in']}, scored={counts['scored']} (written {written}), "
            f"rejected={counts['rejected']} (written {rejected})",
            hint="this is a bug in mlctl: rerun with --debug and report it",
        )


@dataclass
class Finished:
    """A scored chunk with its output and rejects encoded for their writers."""

    scored: Scored
    output: Encoded
    rejects: Encoded


def _iter_local(
    inputs: readers.Inputs, scorer: ChunkScorer, chunk_rows: int, finish: Callable[[Scored], Finished]
) -> Iterator[Finished]:
    """Read ahead in a thread; parse, score and encode chunks on one thread per core; yield them in order.

    pyarrow, numpy and onnxruntime release the GIL for the heavy parts, so the
    cores work on different chunks at once. A chunk's first row number is only
    known once the chunk before it is parsed, so each task hands its end row to
    the next. At most one chunk per worker is in flight beyond the one being
    written: memory stays flat.
    """
    from concurrent.futures import Future

    def task(chunk: readers.Chunk, start: Future, end: Future) -> Finished:
        try:
            table = chunk.load()
            first = start.result()
            end.set_result(first + table.num_rows)
        except BaseException as exc:  # the tasks after this one must not wait forever
            end.set_exception(exc)
            raise
        return finish(scorer.score(table, first))

    workers = _cores()
    chunks = _prefetch(readers.iter_chunks(inputs, scorer.kinds, scorer.columns, chunk_rows))
    pending: deque = deque()
    end: Future = Future()
    end.set_result(0)
    with ThreadPoolExecutor(workers, thread_name_prefix="mlctl-predict") as pool:
        try:
            for chunk in chunks:
                start, end = end, Future()
                pending.append(pool.submit(task, chunk, start, end))
                if len(pending) > workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
            chunks.close()


def _finished(scored: Iterator[Scored], finish: Callable[[Scored], Finished]) -> Iterator[Finished]:
    with contextlib.closing(scored):  # type: ignore[type-var]
        for chunk in scored:
            yield finish(chunk)


def _cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's)."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_DONE = object()


def _prefetch(items: Iterator, depth: int = 2) -> Iterator:
    """Yield ``items`` produced by a background thread, at most ``depth`` ahead (memory stays flat)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_DONE, None))
        except BaseException as exc:  # handed to the consumer, raised there
            put((_DONE, exc))

    thread = threading.Thread(target=produce, name="mlctl-predict-reader", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if exc is not None:
                raise exc
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
