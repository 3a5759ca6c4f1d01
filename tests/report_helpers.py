"""Helpers for tests/test_report.py: a two-commit project of hand-made artifacts, and a fake GitHub API."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import yaml

from tests.conftest import git

DVC_YAML = {
    "stages": {
        "validate": {"cmd": "mlctl validate", "metrics": [{"reports/validation.json": {"cache": False}}]},
        "evaluate": {
            "cmd": "mlctl evaluate",
            "metrics": [{"metrics/evaluate.json": {"cache": False}}, {"metrics/slices.json": {"cache": False}}],
        },
    }
}


def metrics(acc: float, auc: float, loss: float) -> dict:
    model = {"accuracy": acc, "roc_auc": auc, "log_loss": loss, "f1": 0.5}
    return {"model": model, "baseline": {"accuracy": 0.6, "roc_auc": 0.5, "log_loss": 0.69, "f1": 0.0}, "rows": 200}


def slices(recall_yes: float) -> dict:
    return {
        "min_slice_size": 20,
        "slices": [
            {"column": "colour", "value": "red", "rows": 80, "metrics": {"recall": 0.7}},
            {"column": "colour", "value": "blue", "rows": 60, "metrics": {"recall": recall_yes}},
        ],
    }


def gate(passed: bool) -> dict:
    rules = [
        {
            "rule": "threshold",
            "metric": "roc_auc",
            "value": 0.81,
            "limit": 0.75,
            "passed": True,
            "skipped": False,
            "detail": "roc_auc 0.81 >= 0.75 (minimum)",
        },
        {
            "rule": "threshold",
            "metric": "accuracy",
            "value": 0.79,
            "limit": 0.8,
            "passed": passed,
            "skipped": False,
            "detail": "accuracy 0.79 vs 0.8 | minimum",
        },
        {
            "rule": "champion",
            "metric": "roc_auc",
            "value": None,
            "limit": None,
            "passed": True,
            "skipped": True,
            "detail": "champion 'main' skipped: no metrics",
        },
    ]
    return {"passed": passed, "candidate": "logistic_regression", "primary_metric": "roc_auc", "rules": rules}


def validation(valid: bool) -> dict:
    skew = (
        []
        if valid
        else [
            {
                "column": "x2",
                "check": "null rate increase",
                "skew": "value",
                "kind": "null_rate",
                "value": 0.3,
                "threshold": 0.1,
                "exceeded": True,
            }
        ]
    )
    return {
        "valid": valid,
        "rows": 400,
        "columns": 8,
        "schema_skew": [],
        "value_skew": skew,
        "summary": {"schema_skew": 0, "value_skew": len(skew), "value_skew_exceeded": len(skew)},
        "warnings": [],
    }


def train_json(sklearn: str) -> dict:
    features = [{"name": "x1", "kind": "numeric"}, {"name": "colour", "kind": "categorical"}]
    return {"features": features, "packages": {"sklearn": sklearn, "numpy": "0.0.1"}, "data_hash": "abc"}


def manifest(fingerprint: str, rows: int) -> dict:
    return {"rows": rows, "sources": [{"name": "data", "fingerprint": fingerprint, "rows": rows}]}


def perf(p50: float, rows_per_s: float) -> dict:
    return {
        "single_row": {"p50_ms": p50, "p95_ms": p50 * 2, "rows_per_s": 1000 / p50},
        "batch": {"rows": 10000, "median_ms": 10000 / rows_per_s * 1000, "rows_per_s": rows_per_s},
    }


def roc(shift: float) -> str:
    pts = [(0.0, 0.0), (0.1, 0.5 + shift), (0.3, 0.8), (1.0, 1.0)]
    return "fpr,tpr,threshold\n" + "".join(f"{f},{min(t, 1.0)},0.5\n" for f, t in pts)


def write_revision(root: Path, *, acc, auc, loss, recall, passed, valid, sklearn, fp, p50, rps, n_iter, roc_shift):
    """One revision's artifacts, written by hand (what the pipeline would leave)."""
    files = {
        "metrics/evaluate.json": metrics(acc, auc, loss),
        "metrics/slices.json": slices(recall),
        "reports/gate.json": gate(passed),
        "reports/validation.json": validation(valid),
        "models/train.json": train_json(sklearn),
        "data/raw/manifest.json": manifest(fp, 400),
        "reports/bench.json": perf(p50, rps),
    }
    for rel, doc in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(json.dumps(doc, indent=2))
    params = {
        "seed": 0,
        "target": "target",
        "collect": {"sources": [{"name": "data", "path": "data/sources/data.csv"}]},
        "train": {"search": {"n_iter": n_iter, "cv": 3}},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML, sort_keys=False))
    plots = root / "plots"
    plots.mkdir(exist_ok=True)
    (plots / "roc.csv").write_text(roc(roc_shift))
    (plots / "precision_recall.csv").write_text("recall,precision,threshold\n1.0,0.5,0.1\n0.5,0.8,0.5\n0.0,1.0,\n")
    (plots / "calibration.csv").write_text(
        "bin,mean_predicted,fraction_positive,rows\n0,0.05,0.1,50\n5,0.55,0.5,40\n9,0.95,0.9,30\n"
    )
    (plots / "confusion.csv").write_text("actual,predicted\n" + "no,no\n" * 5 + "no,yes\n" + "yes,yes\n" * 4)
    (plots / "feature_importance.csv").write_text("feature,importance,std\nx1,0.2,0.01\ncolour,0.05,0.01\n")


BASE = dict(
    acc=0.82,
    auc=0.80,
    loss=0.45,
    recall=0.6,
    passed=True,
    valid=True,
    sklearn="1.5.0",
    fp="a" * 64,
    p50=1.0,
    rps=200_000.0,
    n_iter=4,
    roc_shift=0.0,
)
HEAD = dict(
    acc=0.79,
    auc=0.85,
    loss=0.40,
    recall=0.6,
    passed=False,
    valid=False,
    sklearn="1.9.1",
    fp="b" * 64,
    p50=2.0,
    rps=210_000.0,
    n_iter=8,
    roc_shift=0.1,
)


def two_commit_project(root: Path) -> Path:
    """A git repository: the base commit on main, a feature branch with a changed revision committed on it."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    write_revision(root, **BASE)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    git(root, "checkout", "-qb", "feature")
    write_revision(root, **HEAD)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "head")
    return root


class FakeGitHub:
    """The three GitHub endpoints `--post` uses, on 127.0.0.1, recording every request."""

    def __init__(self, token: str = "tok", number: int = 7, others: int = 120, status: int | None = None):
        self.token, self.number, self.status = token, number, status
        self.comments = [{"id": i + 1, "body": f"someone else's comment {i}"} for i in range(others)]
        self.pulls: list[dict] = []  # pull requests opened through POST /repos/o/r/pulls (the first gets `number`)
        self.requests: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def ours(self) -> list[dict]:
        return [c for c in self.comments if "<!-- mlctl-report -->" in c["body"]]

    def __enter__(self) -> FakeGitHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def _reply(self, status: int, body, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length)) if length else None
                fake.requests.append(
                    {
                        "method": method,
                        "path": url.path,
                        "query": parse_qs(url.query),
                        "auth": self.headers.get("Authorization"),
                        "body": payload,
                    }
                )
                if fake.status:
                    return self._reply(fake.status, {"message": "Bad credentials"})
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._reply(401, {"message": "Bad credentials"})
                pulls = "/repos/o/r/pulls"
                if method == "GET" and url.path == pulls:
                    q = parse_qs(url.query)
                    owner, _, head = q["head"][0].partition(":")
                    found = [
                        p
                        for p in fake.pulls
                        if owner == "o"
                        and p["head"]["ref"] == head
                        and p["state"] == q.get("state", ["open"])[0]
                        and p["base"]["ref"] == q.get("base", [p["base"]["ref"]])[0]
                    ]
                    return self._reply(200, found)
                if method == "POST" and url.path == pulls:
                    number = fake.number + len(fake.pulls)
                    pr = {
                        "number": number,
                        "title": payload["title"],
                        "body": payload["body"],
                        "head": {"ref": payload["head"]},
                        "base": {"ref": payload["base"]},
                        "state": "open",
                        "html_url": f"https://github.invalid/o/r/pull/{number}",
                    }
                    fake.pulls.append(pr)
                    return self._reply(201, pr)
                if method == "PATCH" and url.path.startswith(pulls + "/"):
                    number = int(url.path.rsplit("/", 1)[1])
                    for pr in fake.pulls:
                        if pr["number"] == number:
                            pr.update(payload)
                            return self._reply(200, pr)
                listing = f"/repos/o/r/issues/{fake.number}/comments"
                if method == "GET" and url.path == listing:
                    q = parse_qs(url.query)
                    per, page = int(q.get("per_page", ["30"])[0]), int(q.get("page", ["1"])[0])
                    chunk = fake.comments[(page - 1) * per : page * per]
                    headers = {}
                    if page * per < len(fake.comments):
                        headers["Link"] = f'<{fake.url}{listing}?per_page={per}&page={page + 1}>; rel="next"'
                    return self._reply(200, chunk, headers)
                if method == "POST" and url.path == listing:
                    comment = {
                        "id": 1000 + len(fake.comments),
                        "body": payload["body"],
                        "html_url": f"https://github.invalid/o/r/pull/{fake.number}#c",
                    }
                    fake.comments.append(comment)
                    return self._reply(201, comment)
                if method == "PATCH" and url.path.startswith("/repos/o/r/issues/comments/"):
                    cid = int(url.path.rsplit("/", 1)[1])
                    for comment in fake.comments:
                        if comment["id"] == cid:
                            comment["body"] = payload["body"]
                            return self._reply(200, {**comment, "html_url": "https://github.invalid/c"})
                return self._reply(404, {"message": "Not Found"})

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

        return Handler
