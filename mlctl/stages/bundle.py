"""`mlctl bundle`: pack the exported model into a self-contained edge bundle under dist/.

The archive ``dist/<name>-<version>.tar.gz`` holds one directory with:
model.onnx and model.json (the manifest, sha256 inside), model.ort (+ its
operator config) when ``bundle.ort_format``, model.quant.onnx when
``bundle.quantize`` and the quantised model is smaller and within
``bundle.quantize_tolerance`` on the parity data, schema.json (inputs/outputs),
model_card.md (when ``mlctl evaluate`` wrote one), run.py (a runner that needs
only onnxruntime and numpy), README.md, bundle.json (what was checked) and
SHA256SUMS. ``<archive>.sha256`` is written beside the archive. Members have a
fixed order, owner and timestamp; only model.ort is not byte-stable (onnxruntime's
converter serialises in no fixed order).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import tarfile
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mlctl.core.errors import MlctlError
from mlctl.core.fileio import atomic_path, dumps_json, write_json, write_text
from mlctl.core.progress import NoProgress, Progress
from mlctl.core.project import Project
from mlctl.params import Common
from mlctl.params.bundle import BundleParams

RUNNER = Path(__file__).resolve().parents[1] / "edge" / "runner.py"


@dataclass
class BundleResult:
    """The archive written and what went into it."""

    archive: str
    sha256: str
    files: list[str]
    ort: dict | None
    quantized: dict | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def schema_of(manifest: dict) -> dict:
    """The input/output contract an edge integrator needs (a subset of the manifest)."""
    keys = ("name", "version", "task", "target", "classes", "inputs", "outputs", "sha256", "opset")
    schema = {k: manifest.get(k) for k in keys}
    schema["encoding"] = {
        "numeric": "float32, shape [N, 1]; missing as NaN; booleans as 0/1",
        "categorical": "string, shape [N, 1]; missing as ''; unknown categories scored as all zeros (one-hot)",
    }
    return schema


def run(params: BundleParams, common: Common, project: Project, progress: Progress | None = None) -> BundleResult:
    """Build the bundle archive and its checksum file."""
    from mlctl.onnxmodel.runtime import OnnxModel

    progress = progress or NoProgress()
    model_path = project.path(params.model, what="model")
    model = OnnxModel.load(model_path, project.path(params.manifest, what="manifest"))
    name = f"{_safe(model.name)}-{_safe(model.version)}"
    out_dir = project.path(params.output_dir, what="bundle.output_dir")
    out_dir.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    steps = 2 + params.ort_format + params.quantize
    progress.start(f"bundling {name}", total=steps)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".bundle-") as tmp:
        stage = Path(tmp) / name
        stage.mkdir()
        shutil.copyfile(model_path, stage / "model.onnx")
        write_json(stage / "model.json", model.manifest)
        write_json(stage / "schema.json", schema_of(model.manifest))
        shutil.copyfile(RUNNER, stage / "run.py")
        write_text(stage / "README.md", _readme(name, model.manifest))
        card = project.path(params.model_card, what="model card")
        if card.is_file():
            shutil.copyfile(card, stage / "model_card.md")
        else:
            notes.append(f"no model card at {params.model_card} (run `mlctl evaluate`): bundled without one")
        progress.advance()

        parity_file = project.path(params.parity_data, what="parity data")
        feeds = None
        if (params.ort_format or params.quantize) and parity_file.is_file():
            from mlctl.edge.variants import parity_feeds

            feeds = parity_feeds(model, parity_file, params.parity_rows, common.seed)
        elif params.ort_format or params.quantize:
            notes.append(f"no parity data at {params.parity_data}: derived models not compared with the full model")

        ort_info = None
        if params.ort_format:
            ort_info = _ort(model, stage, feeds)
            progress.advance()
        quant_info = None
        if params.quantize:
            quant_info = _quantized(model, stage, feeds, params.quantize_tolerance, notes)
            progress.advance()

        report = {"bundle": name, "model": model.manifest.get("name"), "version": model.version}
        report |= {"sha256": model.sha256, "ort": ort_info, "quantized": quant_info, "notes": notes}
        write_json(stage / "bundle.json", report)
        files = sorted(p.name for p in stage.iterdir())
        sums = "".join(f"{_sha256(stage / f)}  {f}\n" for f in files)
        write_text(stage / "SHA256SUMS", sums)
        files.append("SHA256SUMS")
        archive = out_dir / f"{name}.tar.gz"
        with atomic_path(archive) as tmp_archive:
            _write_archive(stage, sorted(files), tmp_archive)
        digest = _sha256(archive)
        write_text(out_dir / f"{archive.name}.sha256", f"{digest}  {archive.name}\n")
        write_text(out_dir / "bundle.json", dumps_json({**report, "archive": archive.name, "archive_sha256": digest}))
        progress.advance()
    progress.done()
    return BundleResult(project.rel(archive), digest, sorted(files), ort_info, quant_info, notes)


def _ort(model, stage: Path, feeds) -> dict:
    from mlctl.edge.variants import compare, to_ort

    made = to_ort(stage / "model.onnx", stage)
    ort_file = next(p for p in made if p.suffix == ".ort")
    if ort_file.name != "model.ort":
        ort_file = ort_file.rename(stage / "model.ort")
    info = {"file": ort_file.name, "bytes": ort_file.stat().st_size}
    if feeds is not None:
        info["parity"] = compare(model, ort_file, feeds)
    return info


def _quantized(model, stage: Path, feeds, tolerance: float, notes: list[str]) -> dict:
    """Quantise; keep the result only if it is smaller and within tolerance on the parity data."""
    from mlctl.edge.variants import compare, quantize

    full = (stage / "model.onnx").stat().st_size
    with tempfile.TemporaryDirectory() as tmp:
        qfile = Path(tmp) / "model.quant.onnx"
        try:
            quantize(stage / "model.onnx", qfile)
        except Exception as exc:  # onnxruntime raises many types for ops it cannot quantise
            notes.append(
                f"quantisation failed ({type(exc).__name__}: {str(exc)[:200]}); bundle has the full model only"
            )
            return {"included": False, "error": str(exc)[:500], "full_bytes": full}
        info = {"full_bytes": full, "quantized_bytes": qfile.stat().st_size, "tolerance": tolerance}
        info["parity"] = compare(model, qfile, feeds) if feeds is not None else None
        diff = (info["parity"] or {}).get("max_abs_diff")
        reasons = []
        if info["quantized_bytes"] >= full:
            reasons.append(
                "not smaller than the full model (skl2onnx emits ai.onnx.ml operators such as TreeEnsemble "
                "or LinearClassifier, which hold no MatMul/Gemm weights to quantise)"
            )
        if feeds is None:
            reasons.append("no parity data to check it")
        elif diff is not None and diff > tolerance:
            reasons.append(f"max |difference| {diff:.3g} above bundle.quantize_tolerance {tolerance}")
        info["included"] = not reasons
        if reasons:
            notes.append("quantised model not included: " + "; ".join(reasons))
        else:
            shutil.copyfile(qfile, stage / "model.quant.onnx")
        return info


def _write_archive(stage: Path, files: list[str], dest: Path) -> None:
    """A reproducible tar.gz: sorted members, fixed owner, mode and mtime."""

    def reset(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        info.mode = 0o755 if info.isdir() or info.name.endswith("run.py") else 0o644
        return info

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(stage, arcname=stage.name, recursive=False, filter=reset)
        for f in files:
            tar.add(stage / f, arcname=f"{stage.name}/{f}", filter=reset)
    with open(dest, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as gz:
        gz.write(buf.getvalue())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _safe(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(text))
    if not cleaned.strip("._"):
        raise MlctlError(f"cannot make a file name from {text!r}")
    return cleaned


def _readme(name: str, manifest: dict) -> str:
    classes = manifest.get("classes")
    return f"""# {name}

Edge bundle of model `{manifest.get("name")}` version `{manifest.get("version")}` ({manifest.get("task")},
target `{manifest.get("target")}`{f", classes {classes}" if classes else ""}).

Verify, then score (needs only `pip install onnxruntime numpy`):

    sha256sum -c SHA256SUMS
    python run.py input.csv --output predictions.csv     # or input.json / input.jsonl / - (stdin)

`run.py` checks model.onnx against the sha256 in model.json before scoring. Inputs
and their encoding are described in schema.json; model.ort is the same model in
onnxruntime's ORT format for mobile and minimal builds.
"""
