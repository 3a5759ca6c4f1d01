"""The one module that owns file formats and atomic writes.

Every artifact mlctl writes goes through ``atomic_path``: the data is written
to a temporary file beside the target and renamed over it, so a crash or a
kill never leaves a half-written file under its final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import DataError, InputNotFoundError

if TYPE_CHECKING:  # pandas is imported lazily: `mlctl --help` must start fast
    import pandas as pd

_UMASK = os.umask(0)
os.umask(_UMASK)

TABLE_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def table_format(path: str | Path) -> str:
    """Return 'csv', 'parquet' or 'jsonl' from a file name, or raise a DataError."""
    suffix = Path(path).suffix.lower()
    if suffix == ".gz":
        suffix = Path(str(path)[:-3]).suffix.lower()
    try:
        return TABLE_FORMATS[suffix]
    except KeyError:
        raise DataError(
            f"unsupported file type {suffix or '(none)'!r}",
            where=str(path),
            hint="use .csv, .parquet or .jsonl",
        ) from None


def remove_stale_tmp(path: Path) -> list[Path]:
    """Delete temporary files of ``path`` left by writers that no longer run (killed with -9, power loss)."""
    removed = []
    prefix = f".{path.name}."
    try:
        candidates = [p for p in path.parent.iterdir() if p.name.startswith(prefix) and p.name.endswith(".tmp")]
    except OSError:
        return removed
    for p in candidates:
        pid = p.name[len(prefix) :].split(".", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            p.unlink()
            removed.append(p)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(path)
    # the writer's pid is in the name, so a later run can tell an abandoned file from one being written
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; artifacts get the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write bytes atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return write_bytes(path, text.encode("utf-8"))


def _json_default(obj: Any) -> Any:
    # numpy scalars/arrays and paths appear in results; turn them into plain JSON.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _clean_floats(obj: Any) -> Any:
    # JSON has no NaN/inf; DVC metrics and browsers choke on them, so write null.
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean_floats(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean_floats(v) for v in obj]
    return obj


def dumps_json(obj: Any) -> str:
    """Serialise to stable, indented JSON (sorted keys off: order is meaningful)."""
    plain = json.loads(json.dumps(obj, default=_json_default))
    return json.dumps(_clean_floats(plain), indent=2, allow_nan=False) + "\n"


def write_json(path: str | Path, obj: Any) -> Path:
    """Write JSON atomically."""
    return write_text(path, dumps_json(obj))


def read_json(path: str | Path) -> Any:
    """Read a JSON file, failing with the file name if it is missing or malformed."""
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError("file not found", where=str(path))
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON: {exc}", where=str(path)) from None
    except UnicodeDecodeError:
        raise DataError("not valid JSON: the file is not UTF-8", where=str(path)) from None


def read_yaml(path: str | Path) -> Any:
    """Read YAML with safe_load only."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise InputNotFoundError("file not found", where=str(path))
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataError(f"not valid YAML: {exc}", where=str(path)) from None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def frame_hash(df: pd.DataFrame) -> str:
    """Return a content hash of a DataFrame: columns, dtypes and values, order-sensitive."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in df.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(df, index=False).values.tobytes())
    return digest.hexdigest()


def read_table(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV, Parquet or JSON-lines file into a DataFrame with clear errors."""
    import pandas as pd

    path = Path(path)
    fmt = table_format(path)
    if not path.exists():
        raise InputNotFoundError("file not found", where=str(path), hint="check the path and that `dvc pull` ran")
    if path.is_file() and path.stat().st_size == 0:
        raise DataError("file is empty", where=str(path))
    try:
        if fmt == "parquet":
            return pd.read_parquet(path, columns=columns)
        if fmt == "jsonl":
            df = pd.read_json(path, lines=True)
            return df[columns] if columns else df
        return pd.read_csv(path, usecols=columns)
    except UnicodeDecodeError as exc:
        raise DataError(f"cannot decode text ({exc.reason})", where=str(path), hint="save the file as UTF-8") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read {fmt}: {exc}", where=str(path)) from None


def read_tables(paths: list[Path], columns: list[str] | None = None) -> pd.DataFrame:
    """Several files of one schema as one DataFrame, converted once (Parquet: joined as Arrow first).

    ``columns``: those of them the files have (None: all). Joining DataFrames copies them all: for
    the splits of a large dataset that doubled the peak memory.
    """
    import pandas as pd

    if paths and all(table_format(p) == "parquet" and Path(p).exists() for p in paths):
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            if columns is not None:
                present = set(pq.read_schema(paths[0]).names)
                columns = [c for c in columns if c in present]
            table = pa.concat_tables([pq.read_table(p, columns=columns) for p in paths])
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"cannot read parquet: {exc}", where=", ".join(str(p) for p in paths)) from None
        return table.to_pandas(self_destruct=True, split_blocks=True)
    frames = [read_table(p) for p in paths]
    if columns is not None:
        frames = [f[[c for c in columns if c in f.columns]] for f in frames]
    return pd.concat(frames, ignore_index=True)


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a DataFrame atomically in the format its extension names."""
    path = Path(path)
    fmt = table_format(path)
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            df.to_parquet(tmp, index=False)
        elif fmt == "jsonl":
            df.to_json(tmp, orient="records", lines=True, date_format="iso")
        else:
            df.to_csv(tmp, index=False)
    return path


def save_skops(obj: Any, path: str | Path) -> Path:
    """Persist a scikit-learn object with skops (never pickle/joblib), atomically."""
    import skops.io as sio

    with atomic_path(path) as tmp:
        sio.dump(obj, tmp)
    return Path(path)


# skops refuses types it does not know; these packages' estimators are ours to trust.
SKOPS_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "mlctl.", "collections.", "builtins.")


def load_skops(path: str | Path) -> Any:
    """Load a skops file, allowing only scikit-learn/numpy/scipy/mlctl types.

    The serving and batch paths never call this: they load ONNX.
    """
    import skops.io as sio

    from mlctl.core.errors import ModelError

    path = Path(path)
    if not path.exists():
        raise InputNotFoundError("model file not found", where=str(path), hint="run `mlctl train` (or `dvc repro`)")
    try:
        untrusted = sio.get_untrusted_types(file=path)
        refused = [t for t in untrusted if not t.startswith(SKOPS_TRUSTED_PREFIXES)]
        if refused:
            raise ModelError(f"model file contains untrusted types {refused}", where=str(path))
        return sio.load(path, trusted=untrusted)
    except ModelError:
        raise
    except Exception as exc:  # a corrupt or foreign file: say so, never a raw traceback
        raise ModelError(f"cannot load skops model: {exc}", where=str(path)) from None
