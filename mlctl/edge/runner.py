"""Score a CSV or JSON file with the bundled ONNX model: needs only onnxruntime and numpy.

Usage:  python run.py INPUT [--output FILE] [--model model.onnx] [--manifest model.json]
                      [--reject-unknown] [--batch-rows N]

INPUT is a .csv file, a .json file (a list of records, or JSON lines), a .jsonl
file, or ``-`` for JSON lines on stdin. Predictions go to stdout as JSON lines,
or to FILE (.csv or .jsonl). Every input row gives one output row: ``row``,
``prediction`` and, for classifiers, ``proba_<class>``; a row that fails the
model's input schema gets an ``error`` instead (exit status 4 if any did).

The model's sha256 is checked against the manifest before anything runs. Inputs
are encoded exactly as mlctl encodes them: numbers as float32 with NaN for
missing; categories as strings with "" for missing; an unknown category is
encoded as all zeros, as scikit-learn's one-hot encoder does (or an error with --reject-unknown). This file is copied
into the bundle by `mlctl bundle`; it must not import mlctl, pandas or sklearn.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

# Read as missing in CSV files: pandas' defaults (identical to mlctl.batch.readers.NULL_TOKENS).
NULL_TOKENS = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA"}
    | {"NULL", "NaN", "None", "n/a", "nan", "null"}
)
TRUE_TOKENS = frozenset({"True", "TRUE", "true"})
FALSE_TOKENS = frozenset({"False", "FALSE", "false"})
EXIT_INVALID_ROWS = 4
EXIT_MODEL = 8


class RowError(ValueError):
    """A value that does not fit the model's input schema."""


def load_model(model_path: Path, manifest_path: Path) -> tuple[ort.InferenceSession, dict]:
    """Check the model's sha256 against the manifest, then open an onnxruntime session."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    data = model_path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != manifest["sha256"]:
        print(
            f"error: {model_path}: sha256 {actual} does not match the manifest ({manifest['sha256']})", file=sys.stderr
        )
        raise SystemExit(EXIT_MODEL)
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"]), manifest


def read_records(path: str) -> tuple[list[dict], bool]:
    """The input rows as dicts, and whether they came from CSV (text values)."""
    if path == "-":
        text, suffix = sys.stdin.read(), ".jsonl"
    else:
        text, suffix = Path(path).read_text(encoding="utf-8"), Path(path).suffix.lower()
    if suffix == ".csv":
        return list(csv.DictReader(io.StringIO(text, newline=""))), True
    stripped = text.lstrip()
    if suffix == ".json" and stripped.startswith("["):
        records = json.loads(text)
    else:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not all(isinstance(r, dict) for r in records):
        raise SystemExit(f"error: {path}: expected JSON objects (records)")
    return records, False


def encode_number(value: object, from_csv: bool) -> float:
    if value is None or (from_csv and value in NULL_TOKENS):
        return math.nan
    if isinstance(value, (bool, int, float)):
        number = float(value)
    elif from_csv and isinstance(value, str):
        if value in TRUE_TOKENS or value in FALSE_TOKENS:
            return 1.0 if value in TRUE_TOKENS else 0.0
        try:
            number = float(value)
        except ValueError:
            raise RowError("expected a number") from None
    else:
        raise RowError("expected a number")
    if math.isinf(number):
        raise RowError("infinite value not allowed")
    return number


def encode_category(value: object, from_csv: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or (from_csv and value in NULL_TOKENS):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return str(int(value)) if float(value).is_integer() else str(value)
    raise RowError("expected a string")


def encode_row(record: dict, inputs: list[dict], from_csv: bool, reject_unknown: bool) -> dict:
    """One record as model inputs; raises RowError naming the first bad field."""
    row = {}
    for spec in inputs:
        name = spec["name"]
        if name not in record:
            raise RowError(f"{name}: field required")
        try:
            if spec["kind"] == "numeric":
                value = encode_number(record[name], from_csv)
                missing = math.isnan(value)
            else:
                value = encode_category(record[name], from_csv)
                missing = value == ""
                # an unknown category is kept: the one-hot encoder scores it as all zeros, as scikit-learn does
                unknown = not missing and spec.get("categories") is not None and value not in spec["_known"]
                if unknown and reject_unknown:
                    raise RowError("unknown category")
        except RowError as exc:
            raise RowError(f"{name}: {exc}") from None
        if missing and not spec.get("nullable", True):
            raise RowError(f"{name}: missing value not allowed")
        row[name] = value
    return row


def score(session: ort.InferenceSession, manifest: dict, rows: list[dict]) -> list[dict]:
    """Run the model on encoded rows (one onnxruntime call)."""
    feeds = {}
    for spec in manifest["inputs"]:
        values = [r[spec["name"]] for r in rows]
        dtype = np.float32 if spec["kind"] == "numeric" else object
        feeds[spec["name"]] = np.array(values, dtype=dtype).reshape(-1, 1)
    outputs = session.run(None, feeds)
    labels = np.asarray(outputs[0]).reshape(-1)
    results = []
    classification = manifest["task"] == "classification"
    for i, label in enumerate(labels.tolist()):
        out = {"prediction": label}
        if classification and len(outputs) > 1:
            for cls, p in zip(manifest["classes"], np.asarray(outputs[1])[i].tolist(), strict=True):
                out[f"proba_{cls}"] = p
        results.append(out)
    return results


def predict(records: list[dict], session, manifest: dict, from_csv: bool, reject_unknown: bool, batch_rows: int):
    """Yield one output dict per record, in order."""
    inputs = [dict(s, _known=frozenset(s.get("categories") or ())) for s in manifest["inputs"]]
    for start in range(0, len(records), batch_rows):
        batch = records[start : start + batch_rows]
        encoded, errors = [], {}
        for i, rec in enumerate(batch):
            try:
                encoded.append(encode_row(rec, inputs, from_csv, reject_unknown))
            except RowError as exc:
                errors[i] = str(exc)
        scored = iter(score(session, manifest, encoded) if encoded else [])
        for i in range(len(batch)):
            yield {"row": start + i, "error": errors[i]} if i in errors else {"row": start + i, **next(scored)}


def write(results, manifest: dict, output: str | None) -> int:
    """Write results as JSON lines (stdout or .jsonl) or CSV; return the number of errors."""
    errors = 0
    columns = ["row", "prediction"]
    if manifest["task"] == "classification":
        columns += [f"proba_{c}" for c in manifest["classes"]]
    columns.append("error")
    fh = sys.stdout if output in (None, "-") else open(output, "w", encoding="utf-8", newline="")  # noqa: SIM115
    try:
        writer = csv.DictWriter(fh, columns) if output and output.lower().endswith(".csv") else None
        if writer:
            writer.writeheader()
        for res in results:
            errors += "error" in res
            if writer:
                writer.writerow(res)
            else:
                fh.write(json.dumps(res) + "\n")
    finally:
        if fh is not sys.stdout:
            fh.close()
    return errors


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description="Score a CSV or JSON file with the bundled ONNX model.")
    parser.add_argument("input", help=".csv, .json, .jsonl, or - for JSON lines on stdin")
    parser.add_argument("--output", "-o", help="output .csv or .jsonl (default: JSON lines on stdout)")
    parser.add_argument("--model", default=str(here / "model.onnx"))
    parser.add_argument("--manifest", default=str(here / "model.json"))
    parser.add_argument("--reject-unknown", action="store_true", help="an unknown category is an error")
    parser.add_argument("--batch-rows", type=int, default=10_000)
    args = parser.parse_args(argv)
    session, manifest = load_model(Path(args.model), Path(args.manifest))
    records, from_csv = read_records(args.input)
    results = predict(records, session, manifest, from_csv, args.reject_unknown, args.batch_rows)
    errors = write(results, manifest, args.output)
    if errors:
        print(f"{errors} of {len(records)} row(s) failed the input schema (see the error column)", file=sys.stderr)
        return EXIT_INVALID_ROWS
    return 0


if __name__ == "__main__":
    sys.exit(main())
