"""The artifact catalog: the default path of every file the pipeline reads or writes, declared once.

params.yaml may move any of them (each stage's section has the keys); the params defaults, dvc.yaml
(generated from the effective params by mlctl.repo.dvcfile) and the registry all start from here.
"""

from __future__ import annotations

SOURCES = "data/sources"  # DVC-tracked source files (collect's input)
RAW_DATA = "data/raw/data.parquet"
RAW_MANIFEST = "data/raw/manifest.json"
SCHEMA = "data/schema.yaml"
PROFILE = "data/profile.json"
VALIDATION_REPORT = "reports/validation.json"
PROCESSED_DIR = "data/processed"  # <split>.parquet for train, validation, test + manifest.json
EDA_HTML = "reports/eda.html"
EDA_MD = "reports/eda.md"
MODEL_DIR = "models"  # model.skops, baseline.skops, train.json, search_results.csv
METRICS_DIR = "metrics"  # evaluate.json, intervals.json, slices.json
PLOTS_DIR = "plots"
MODEL_CARD = "reports/model_card.md"
GATE_REPORT = "reports/gate.json"
ONNX_MODEL = "models/model.onnx"
MANIFEST = "models/model.json"
PREDICTIONS = "data/predictions/test.parquet"
DIST_DIR = "dist"
REQUEST_LOGS = "logs/requests"
MONITOR_REPORT = "reports/monitor"  # .json, .md, .html
REPLAY_REPORT = "reports/replay"  # .json, .md, .html
PR_REPORT = "reports/pr.md"
BENCH_REPORT = "reports/bench.json"
RUN_CHECK_MARKER = ".dvc/tmp/mlctl-run-check"  # the digest of the params.yaml + dvc.yaml `mlctl run` last found sound

# File names inside the directories above.
MODEL_FILE = "model.skops"
BASELINE_FILE = "baseline.skops"
TRAIN_REPORT_FILE = "train.json"
SEARCH_RESULTS_FILE = "search_results.csv"
METRICS_FILE = "evaluate.json"
INTERVALS_FILE = "intervals.json"
SLICES_FILE = "slices.json"
STALENESS_FILE = "staleness.json"
FEATURES_FILE = "features.json"
SPLITS = ("train", "validation", "test")


def split_file(directory: str, split: str) -> str:
    """`<directory>/<split>.parquet`, the path prepare writes a split to."""
    return f"{directory}/{split}.parquet"


TRAIN_DATA = split_file(PROCESSED_DIR, "train")
TEST_DATA = split_file(PROCESSED_DIR, "test")
