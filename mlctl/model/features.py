"""The canonical model-input frame shared by training, export, serving and batch scoring.

Numeric and boolean features become float (booleans as 0/1, missing as NaN),
rounded to float32 because that is what the ONNX model computes with, so
scikit-learn and onnxruntime see exactly the same inputs. Categorical features
become strings with missing as "" (the encoder treats it as its own level).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

from mlctl.core.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["numeric", "categorical"]
MISSING_CATEGORY = ""


@dataclass(frozen=True)
class Feature:
    """One model input: its column name and how it is encoded."""

    name: str
    kind: Kind

    def to_dict(self) -> dict:
        return asdict(self)


def infer_features(
    df: pd.DataFrame,
    target: str,
    *,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    numeric: list[str] | None = None,
    categorical: list[str] | None = None,
) -> list[Feature]:
    """Decide each feature's kind from its dtype; ``numeric``/``categorical`` force a kind."""
    import pandas as pd

    exclude_set = set(exclude or []) | {target}
    names = list(include) if include else [c for c in df.columns if c not in exclude_set]
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise ConfigError(f"feature column(s) {missing} not in the data", hint=f"columns are {list(df.columns)}")
    forced_num, forced_cat = set(numeric or []), set(categorical or [])
    features = []
    for name in names:
        if name in exclude_set and include:
            continue
        col = df[name]
        if name in forced_num:
            kind: Kind = "numeric"
        elif name in forced_cat:
            kind = "categorical"
        elif pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            kind = "numeric"
        elif pd.api.types.is_datetime64_any_dtype(col):
            raise DataError(
                f"column {name!r} is a datetime; the model takes its parts, not the raw date",
                where=name,
                hint="list it under prepare.date_columns so prepare derives year/month/... features",
            )
        else:
            kind = "categorical"
        features.append(Feature(name, kind))
    if not features:
        raise ConfigError("no feature columns left", hint="check train.features and train.forbidden")
    return features


def to_model_frame(df: pd.DataFrame, features: list[Feature]) -> pd.DataFrame:
    """Return the feature columns of ``df`` encoded the one way every model path uses."""
    import numpy as np
    import pandas as pd

    out = {}
    for f in features:
        if f.name not in df.columns:
            raise DataError(f"feature column {f.name!r} is missing", where=f.name)
        col = df[f.name]
        if f.kind == "numeric":
            values = pd.to_numeric(col.astype("float64") if col.dtype == bool else col, errors="coerce")
            out[f.name] = values.to_numpy(dtype="float64", na_value=np.nan).astype("float32").astype("float64")
        else:
            out[f.name] = categorical_strings(col)
    return pd.DataFrame(out, index=df.index)


def categorical_strings(col: pd.Series):
    """Categorical values as an object array of str, missing as ''."""
    import pandas as pd

    if pd.api.types.is_float_dtype(col):  # rare: the slow path keeps 1.0 == "1"
        return col.map(lambda v: MISSING_CATEGORY if pd.isna(v) else _as_str(v)).to_numpy(dtype=object)
    return col.astype("string").fillna(MISSING_CATEGORY).to_numpy(dtype=object)


def _as_str(value: object) -> str:
    # 1.0 and 1 must be the same category whether they came from CSV or JSON.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
