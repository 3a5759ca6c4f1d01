"""Benchmark: does the hand-written protobuf codec of mlctl.onnxmodel.labelcodes pay for itself?

Issue 17, item 5: label codes go through the ``onnx`` package unless the
hand-written codec saves more than 5% of an end-to-end ``mlctl predict`` run on
1M rows. This script, in one run:

1. runs the two rewrites (``with_label_codes``, ``with_category_codes``) of
   mlctl.onnxmodel.labelcodes, made with the onnx package (load_from_string,
   helper.make_attribute, SerializeToString), and those of the hand-written
   wire-format codec it replaced (benchmarks/labelcodes_wire.py), and checks, on models exported by mlctl (the logistic
   regression of bench_predict.py and a random forest), that both implementations
   give the same bytes, or else the same protobuf and the same onnxruntime
   predictions on a sample;
2. times an end-to-end ``mlctl predict`` of 1M rows, Parquet→Parquet, as a
   subprocess (median of --repeat);
3. times the onnx path: a fresh process's ``import onnx`` minus a bare
   ``python -c pass`` (an upper bound: it includes numpy and protobuf, of which
   numpy is imported by mlctl predict anyway; the import on top of mlctl
   predict's own libraries is printed too), plus the onnx rewrite;
4. times the hand-written rewrite, and prints the saving as % of the e2e run.

    python benchmarks/bench_labelcodes.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # conftest imports the workflow fixtures by their bare name
sys.path.insert(0, str(REPO / "benchmarks"))

# the two codecs: mlctl's, through the onnx package, and the hand-written wire-format one it replaced
from labelcodes_wire import with_category_codes as wire_category_codes  # noqa: E402
from labelcodes_wire import with_label_codes as wire_label_codes  # noqa: E402

from mlctl.onnxmodel.labelcodes import with_category_codes as onnx_category_codes  # noqa: E402
from mlctl.onnxmodel.labelcodes import with_label_codes as onnx_label_codes  # noqa: E402

# -- checks -------------------------------------------------------------------------------------


def both(label_codes, category_codes, data: bytes, classes: list):
    labelled = label_codes(data, classes)
    inputs = category_codes(labelled or data)
    return labelled, inputs


def compare(name: str, data: bytes, classes: list, frame, inputs: list[dict]) -> str:
    """Both implementations on one model: same bytes, else same protobuf and same predictions."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    hand = both(wire_label_codes, wire_category_codes, data, classes)
    lib = both(onnx_label_codes, onnx_category_codes, data, classes)
    if hand[0] is None or hand[1] is None or lib[0] is None or lib[1] is None:
        raise SystemExit(f"{name}: a rewrite did not apply (hand {hand[0] is not None, hand[1] is not None}, onnx ...)")
    if hand[1][1] != lib[1][1]:
        raise SystemExit(f"{name}: the categories differ: {hand[1][1]} vs {lib[1][1]}")
    if hand[0] == lib[0] and hand[1][0] == lib[1][0]:
        verdict = "byte-identical"
    elif onnx.load_from_string(hand[1][0]) == onnx.load_from_string(lib[1][0]):
        verdict = "same protobuf (bytes differ)"
    else:
        raise SystemExit(f"{name}: the two rewritten models differ")
    # and the predictions on a sample, through onnxruntime
    categories = hand[1][1]
    sample = frame.head(2000)
    feeds = {}
    for spec in inputs:
        col = spec["name"]
        if col in categories:
            lookup = {c: i for i, c in enumerate(categories[col])}
            codes = [lookup.get("" if v is None or v != v else v, -1) for v in sample[col]]
            feeds[col] = np.asarray(codes, dtype=np.int64).reshape(-1, 1)
        else:
            feeds[col] = sample[col].to_numpy(dtype=np.float32).reshape(-1, 1)
    outs = []
    for model in (hand[1][0], lib[1][0]):
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        names = {i.name for i in session.get_inputs()}
        outs.append(session.run(None, {k: v for k, v in feeds.items() if k in names}))
    if len(outs[0][0]) != len(sample):
        raise SystemExit(f"{name}: no predictions")
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    return f"{verdict}; onnxruntime predictions equal on {len(sample)} rows"


# -- timings ------------------------------------------------------------------------------------


def wall(cmd: list[str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def rewrite_seconds(label_codes, category_codes, data: bytes, classes: list, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        both(label_codes, category_codes, data, classes)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# what `import onnx` adds on top of what mlctl predict has loaded when it rewrites the graph
MARGINAL = (
    "import time, numpy, onnxruntime, pyarrow.parquet, mlctl.cli, mlctl.stages.predict, mlctl.onnxmodel.runtime\n"
    "t = time.perf_counter()\nimport onnx\nprint(time.perf_counter() - t)\n"
)
# `mlctl predict` with either codec: the same entry point, the onnx one swapped into the module;
# both timed inside the run (for the onnx one: its import, where mlctl predict would do it)
RUN = """
import sys, time
sys.path.insert(0, {bench!r})
from mlctl.onnxmodel import labelcodes as m
if {onnx}:
    codecs = m.with_label_codes, m.with_category_codes
else:
    import labelcodes_wire as w
    codecs = w.with_label_codes, w.with_category_codes
spent = [0.0]
def timed(f):
    def call(*args):
        t = time.perf_counter()
        try:
            return f(*args)
        finally:
            spent[0] += time.perf_counter() - t
    return call
m.with_label_codes, m.with_category_codes = map(timed, codecs)
from mlctl.cli import main
try:
    main({argv!r})
finally:
    print("CODEC", spent[0], file=sys.stderr)
"""


def run_codec(code: str) -> tuple[float, float]:
    """Wall time of one `mlctl predict` child and the time spent in the codec inside it."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    return seconds, float(proc.stderr.split("CODEC")[-1])


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} s (min {min(values):.3f}, max {max(values):.3f}, n={len(values)})"


def forest_model(tmp: Path):
    from tests.serve_helpers import build_model

    built = build_model(tmp / "rf", "classification", estimator="random_forest")
    manifest = built["manifest"]
    return built["model"].read_bytes(), manifest["classes"], built["frame"], manifest["inputs"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="e2e runs (median)")
    parser.add_argument("--ab", type=int, default=5, help="e2e runs per codec in the direct A/B (median)")
    parser.add_argument("--imports", type=int, default=9, help="fresh-process import timings (median)")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "mlctl-bench-predict")
    args = parser.parse_args()

    import bench_predict
    import pandas as pd

    cmd = [sys.executable, bench_predict.__file__, "--child", "prepare", "--cache-dir", str(args.cache_dir)]
    subprocess.run([*cmd, "--rows", str(args.rows)], check=True)
    root = args.cache_dir / "project"
    data = (root / "models/model.onnx").read_bytes()
    manifest = json.loads((root / "models/model.json").read_text())
    classes = manifest["classes"]
    frame, _ = bench_predict.generate_frame(2000, 1)
    with tempfile.TemporaryDirectory() as tmp:
        rf = forest_model(Path(tmp))
    models = {"logistic_regression (e2e model)": (data, classes, frame, manifest["inputs"]), "random_forest": rf}

    print("1. the two implementations on mlctl-exported models")
    for name, (blob, cls, sample, inputs) in models.items():
        print(f"   {name:<32} {len(blob):>9,} bytes: {compare(name, blob, cls, pd.DataFrame(sample), inputs)}")

    print(f"2. end-to-end `mlctl predict` {args.rows:,} rows Parquet→Parquet (subprocess)")
    src = root / "data" / f"in-{args.rows}.parquet"
    out = Path(tempfile.mkdtemp(prefix="bench-lc-", dir=root)) / "out.parquet"
    predict = [sys.executable, "-m", "mlctl", "predict", str(src), str(out), "--passthrough", "id", "-C", str(root)]
    wall(predict)  # warm the page cache and __pycache__
    e2e = [wall(predict) for _ in range(args.repeat)]
    print(f"   {spread(e2e)}")
    argv = predict[3:]
    runs: dict[bool, list[float]] = {False: [], True: []}
    inside: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.ab):  # interleaved: both see the same machine load
        for lib in (False, True):
            seconds, codec = run_codec(RUN.format(bench=str(REPO / "benchmarks"), onnx=lib, argv=argv))
            runs[lib].append(seconds)
            inside[lib].append(codec)
    ab = [o - h for h, o in zip(runs[False], runs[True], strict=True)]
    print(f"   A/B, hand-written codec: {spread(runs[False])}; in the codec {spread(inside[False])}")
    print(f"   A/B, onnx package codec: {spread(runs[True])}; in the codec (import included) {spread(inside[True])}")
    print(f"   A/B, onnx - hand, pairwise: {spread(ab)}")

    print("3. the onnx path")
    bare, imp = [], []
    wall([sys.executable, "-c", "import onnx"])
    for _ in range(args.imports):  # interleaved: both see the same machine load
        bare.append(wall([sys.executable, "-c", "pass"]))
        imp.append(wall([sys.executable, "-c", "import onnx"]))
    diffs = [i - b for i, b in zip(imp, bare, strict=True)]
    import_cost = statistics.median(imp) - statistics.median(bare)
    print(f"   python -c pass        {spread(bare)}")
    print(f"   python -c import onnx {spread(imp)}")
    print(f"   import onnx cost      {import_cost:.3f} s (pairwise differences: {spread(diffs)})")
    marginal = [
        float(subprocess.run([sys.executable, "-c", MARGINAL], capture_output=True, text=True, check=True).stdout)
        for _ in range(args.imports)
    ]
    print(f"   import onnx on top of mlctl predict's own imports: {spread(marginal)}")
    import onnx  # noqa: F401  (the rewrites below are timed with the package loaded)

    rewrites = {}
    for name, (blob, cls, _, _) in models.items():
        lib = rewrite_seconds(onnx_label_codes, onnx_category_codes, blob, cls, 20)
        hand = rewrite_seconds(wire_label_codes, wire_category_codes, blob, cls, 20)
        rewrites[name] = (lib, hand)
        print(f"   rewrite {name:<32} onnx {lib * 1e3:7.2f} ms   hand-written {hand * 1e3:7.2f} ms")

    print("4. saving of the hand-written codec, as % of the e2e run")
    e2e_med = statistics.median(e2e)
    costs = {"fresh-process import (upper bound)": import_cost, "import on top of mlctl's": statistics.median(marginal)}
    costs_run = {"in the run (timed inside mlctl predict)": statistics.median(inside[True])}
    for name, (lib, hand) in rewrites.items():
        for label, cost in costs.items():
            saving = cost + lib - hand
            print(f"   {name:<32} {label:<35} {saving:.3f} s = {100 * saving / e2e_med:5.2f}% of {e2e_med:.2f} s")
    inrun = statistics.median(inside[True]) - statistics.median(inside[False])
    print(
        f"   in the run, onnx codec - hand codec:     {inrun:.3f} s = {100 * inrun / e2e_med:5.2f}% of {e2e_med:.2f} s"
    )
    ab_med, hand_med = statistics.median(ab), statistics.median(runs[False])
    print(
        f"   direct A/B, median pairwise onnx - hand: {ab_med:.3f} s = "
        f"{100 * ab_med / hand_med:5.2f}% of {hand_med:.2f} s"
    )
    lib, hand = rewrites["logistic_regression (e2e model)"]
    savings = {label: cost + lib - hand for label, cost in costs.items()}
    savings |= {label: cost - statistics.median(inside[False]) for label, cost in costs_run.items()}
    for label, seconds in savings.items():
        saving = 100 * seconds / e2e_med
        verdict = "KEEP the hand-written codec" if saving > 5 else "use the onnx package"
        print(f"rule (issue 17, > 5% keeps it), {label}: {saving:.2f}% -> {verdict}")


if __name__ == "__main__":
    main()
