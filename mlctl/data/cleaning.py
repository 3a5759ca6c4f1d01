"""Pure cleaning steps of `prepare`: type coercion, de-duplication, date features.

Each function takes a DataFrame and returns a new one plus what it did, so the
stage can record every change in data/processed/manifest.json.
"""

from __future__ import annotations

import difflib
import re
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlctl.core.errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# values tried first: a column must convert whole, so one failure among the first few settles it cheaply
SAMPLE = 1000
BOOL_WORDS = {"true": True, "false": False}
# ISO-8601 dates/timestamps only: "2024-01-31", "2024-01-31 12:00", "2024-01-31T12:00:00.5+01:00"
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
# "0123" is a code (zip, account), not the number 123: leading zeros block numeric coercion
LEADING_ZERO = re.compile(r"^[+-]?0\d")


@dataclass
class Coercion:
    """What type coercion changed."""

    converted: dict[str, str] = field(default_factory=dict)  # column -> "numeric" | "boolean" | "datetime"
    detected_dates: list[str] = field(default_factory=list)  # datetime columns not listed in date_columns
    notes: list[str] = field(default_factory=list)


def nearest(name: str, options: list[str], n: int = 3) -> str:
    """A hint naming the closest column names to ``name`` (or listing the columns)."""
    options = [str(o) for o in options]
    close = difflib.get_close_matches(str(name), options, n=n, cutoff=0.5)
    if not close:  # case-insensitive match catches "Deny" vs "deny"
        close = [o for o in options if o.lower() == str(name).lower()]
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    shown = ", ".join(options[:20]) + (" ..." if len(options) > 20 else "")
    return f"columns are: {shown}"


def require_columns(df: pd.DataFrame, names: list[str], *, key: str, where: str | None = None) -> None:
    """Raise a ConfigError if a column named in params (``key``) is not in the data."""
    for name in names:
        if name not in df.columns:
            raise ConfigError(
                f"{key} names column {name!r}, which is not in the data",
                where=where,
                hint=nearest(name, list(df.columns)),
            )


def _is_text(col: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)


def _all_numeric(text: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.to_numeric(text.str.strip(), errors="coerce").notna().all())


def _as_numeric(text: pd.Series) -> pd.Series | None:
    """The column as numbers if every non-missing value is a number, else None."""
    import pandas as pd

    if not _all_numeric(text.head(SAMPLE)):  # every value must be: a few text values settle most columns
        return None
    stripped = text.str.strip()
    if stripped.str.match(LEADING_ZERO).any():
        return None
    numbers = pd.to_numeric(stripped, errors="coerce")
    if numbers.notna().sum() != len(text):
        return None
    if (numbers % 1 == 0).all() and numbers.abs().max() < 2**53:
        return numbers.astype("int64")
    return numbers.astype("float64")


def _as_bool(text: pd.Series) -> pd.Series | None:
    """The column as booleans if every non-missing value is 'true' or 'false' (any case)."""
    if not text.head(SAMPLE).str.strip().str.lower().isin(list(BOOL_WORDS)).all():  # cheap, and necessary
        return None
    lowered = text.str.strip().str.lower()
    if not lowered.isin(list(BOOL_WORDS)).all():
        return None
    return lowered.map(BOOL_WORDS).astype(bool)


def _looks_like_dates(text: pd.Series) -> bool:
    sample = text.head(1000)  # a cheap check first; a full parse follows
    return bool(len(sample)) and bool(sample.str.strip().str.match(ISO_DATE).all())


def parse_dates(col: pd.Series, name: str) -> pd.Series:
    """Parse a column to datetime; raise a DataError naming values that are not dates."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(col):
        return col
    # ISO first, then the format pandas infers from the values, then day-first (31/12/2024)
    for options in ({"format": "ISO8601"}, {}, {"dayfirst": True}):
        try:
            with warnings.catch_warnings():  # pandas warns about guessed formats; we check the result
                warnings.simplefilter("ignore", UserWarning)
                parsed = pd.to_datetime(col, errors="coerce", **options)
        except (ValueError, TypeError):
            continue
        if not (col.notna() & parsed.isna()).any():
            return parsed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        parsed = pd.to_datetime(col, errors="coerce", format="mixed")
    bad = col.notna() & parsed.isna()
    examples = [str(v) for v in col[bad].unique()[:3]]
    raise DataError(
        f"{int(bad.sum())} value(s) of date column {name!r} are not dates, e.g. {examples}",
        where=name,
        hint="fix the values, or remove the column from prepare.date_columns",
    )


def coerce_types(df: pd.DataFrame, *, date_columns: list[str], keep: list[str] = ()) -> tuple[pd.DataFrame, Coercion]:
    """Numeric-looking text → numbers, 'true'/'false' → bool, dates → datetime.

    Columns in ``keep`` (e.g. a classification target) are left as they are,
    except declared date columns. Text columns that hold only ISO dates are
    detected and parsed even when not declared (the caller notes it).
    """
    import pandas as pd

    out = df.copy()
    report = Coercion()
    for name in date_columns:
        out[name] = parse_dates(out[name], name)
        report.converted[name] = "datetime"
    for name in out.columns:
        col = out[name]
        if name in date_columns:
            continue
        if pd.api.types.is_datetime64_any_dtype(col):
            report.detected_dates.append(name)
            continue
        if name in keep or not _is_text(col):
            continue
        present = col.dropna().astype(str)
        if present.empty:
            continue
        numbers = _as_numeric(present)
        if numbers is not None:
            out[name] = _fill(col, numbers)
            report.converted[name] = "numeric"
            continue
        if (
            _all_numeric(present.head(SAMPLE))
            and present.str.strip().str.match(LEADING_ZERO).any()
            and pd.to_numeric(present, errors="coerce").notna().all()
        ):
            report.notes.append(f"{name}: kept as text (values with leading zeros look like codes)")
            continue
        flags = _as_bool(present)
        if flags is not None:
            out[name] = _fill(col, flags)
            report.converted[name] = "boolean"
            continue
        if _looks_like_dates(present):
            try:
                out[name] = parse_dates(col, name)
            except DataError:
                continue  # not all values are dates: leave it as text
            report.converted[name] = "datetime"
            report.detected_dates.append(name)
    return out, report


def _fill(original: pd.Series, converted: pd.Series) -> pd.Series:
    """Put converted non-missing values back into the full column; missing stays missing."""
    import pandas as pd

    if original.notna().all():
        return converted.reindex(original.index)
    if pd.api.types.is_bool_dtype(converted):
        return converted.reindex(original.index).astype("boolean")
    return converted.reindex(original.index).astype("float64")


def drop_duplicates(df: pd.DataFrame, ignore: list[str] = ()) -> tuple[pd.DataFrame, int]:
    """Drop repeated rows (comparing all columns but ``ignore``); return the frame and the count dropped.

    The rows pandas' ``duplicated`` would call equal, found without factorising every column of every
    row (29 s of prepare's 77 at 10M rows): each row gets a 64-bit key from its values, and only rows
    whose key repeats are compared exactly. Equal rows always share a key (-0.0 and 0.0, every NaN,
    None and NaN in text get the same one), so a key collision can cost time, never a wrong answer.
    """
    import numpy as np

    subset = [c for c in df.columns if c not in set(ignore)] or list(df.columns)
    candidates = np.flatnonzero(_row_keys(df, subset).duplicated(keep=False).to_numpy())
    if len(candidates) == 0:
        return df, 0
    repeated = candidates[df.iloc[candidates][subset].duplicated(keep="first").to_numpy()]
    if len(repeated) == 0:
        return df, 0
    keep = np.ones(len(df), dtype=bool)
    keep[repeated] = False
    return df[keep], len(repeated)


def _row_keys(df: pd.DataFrame, columns: list[str]) -> pd.Series:
    """A 64-bit key per row, equal for rows whose values are equal as `DataFrame.duplicated` compares them."""
    import numpy as np
    import pandas as pd

    key = np.zeros(len(df), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name in columns:
            col = df[name]
            dtype = col.dtype
            if isinstance(dtype, np.dtype) and dtype.kind == "f":
                values = col.to_numpy(dtype=np.float64) + 0.0  # -0.0 + 0.0 is 0.0
                values[np.isnan(values)] = np.nan  # one NaN bit pattern
                bits = values.view(np.uint64)
            elif isinstance(dtype, np.dtype) and dtype.kind in "iubmM":
                bits = col.to_numpy().astype(np.int64, copy=False).view(np.uint64)
            else:  # text, categories, nullable and mixed values: pandas' own equality, as codes
                bits = pd.factorize(col, use_na_sentinel=True)[0].astype(np.int64).view(np.uint64)
            key = (key ^ _mix(bits)) * np.uint64(0x100000001B3)  # FNV-style fold of the mixed column values
    return pd.Series(key, copy=False)


def _mix(bits: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the 64 (nearby values get distant keys)."""
    import numpy as np

    z = bits + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def drop_missing(df: pd.DataFrame, column: str) -> tuple[pd.DataFrame, int]:
    """Drop rows where ``column`` is missing; return the frame and the count dropped."""
    kept = df[df[column].notna()]
    return kept, len(df) - len(kept)


def date_features(df: pd.DataFrame, columns: list[str], parts: list[str]) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Add ``<col>_<part>`` for each datetime column and part, then drop the raw columns.

    Parts are integers, or floats with NaN where the date is missing (the model
    contract turns numbers into float anyway).
    """
    out = df.copy()
    derived: dict[str, list[str]] = {}
    for name in columns:
        stamps = out[name]
        names = []
        for part in parts:
            new = f"{name}_{part}"
            if new in out.columns:
                raise DataError(
                    f"date feature {new!r} would overwrite an existing column",
                    where=name,
                    hint="rename the existing column or drop it with prepare.drop_columns",
                )
            values = getattr(stamps.dt, part)
            out[new] = values.astype("int64") if values.notna().all() else values.astype("float64")
            names.append(new)
        derived[name] = names
    return out.drop(columns=list(columns)), derived
