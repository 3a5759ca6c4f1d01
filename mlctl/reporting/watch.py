"""Dependency and performance watch: packages, source fingerprints and the micro-benchmark.

Compares what was recorded at training time on the base revision with what
was recorded on this one (models/train.json ``packages``, the collect
manifest's source fingerprints) and with what is installed now, so a silent
library upgrade or a changed source file is visible in the pull request.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Any

from mlctl.reporting.diff import MetricRow

# reports/bench.json (`mlctl bench`) keys shown in the report: (path, label, direction)
PERF_KEYS = [
    ("single_row.p50_ms", "single-row latency p50 (ms)", "lower"),
    ("single_row.p95_ms", "single-row latency p95 (ms)", "lower"),
    ("single_row.rows_per_s", "single-row throughput (rows/s)", "higher"),
    ("batch.median_ms", "batch latency median (ms)", "lower"),
    ("batch.p95_ms", "batch latency p95 (ms)", "lower"),
    ("batch.rows_per_s", "batch throughput (rows/s)", "higher"),
]


@dataclass
class PackageRow:
    """One package: recorded at training on the base, on this revision, and installed now."""

    package: str
    base: str | None
    this: str | None
    installed: str | None

    @property
    def notes(self) -> list[str]:
        out = []
        if self.base != self.this:
            out.append("added" if self.base is None else "removed" if self.this is None else "changed since base")
        if self.this is not None and self.installed != self.this:
            out.append("not installed" if self.installed is None else "installed differs from training")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "notes": self.notes}


@dataclass
class SourceRow:
    """One collect source: its fingerprint and rows on the base and here."""

    source: str
    base_fingerprint: str | None
    this_fingerprint: str | None
    base_rows: int | None
    this_rows: int | None

    @property
    def status(self) -> str:
        if self.base_fingerprint is None and self.this_fingerprint is None:
            return "unknown"
        if self.base_fingerprint is None:
            return "new"
        if self.this_fingerprint is None:
            return "removed"
        return "same" if self.base_fingerprint == self.this_fingerprint else "changed"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status}


@functools.cache
def _distributions() -> dict[str, list[str]]:
    from importlib import metadata

    return metadata.packages_distributions()  # scans every installed package: about a second, so once


def installed_version(module: str) -> str | None:
    """The installed version of the distribution that provides ``module`` (sklearn → scikit-learn), or None."""
    from importlib import metadata

    try:
        return metadata.version(module)  # most import names are their distribution's name
    except metadata.PackageNotFoundError:
        pass
    for name in _distributions().get(module, []):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def package_rows(base: dict | None, this: dict | None) -> list[PackageRow]:
    """Packages recorded at training on both revisions, with the installed versions."""
    base, this = base or {}, this or {}
    names = [*this, *(n for n in base if n not in this)]
    return [PackageRow(n, _str(base.get(n)), _str(this.get(n)), installed_version(n)) for n in names]


def source_rows(base: dict | None, this: dict | None) -> list[SourceRow]:
    """Collect sources by name from two raw-data manifests."""

    def by_name(manifest: dict | None) -> dict[str, dict]:
        sources = (manifest or {}).get("sources") or []
        return {str(s.get("name")): s for s in sources if isinstance(s, dict)}

    old, new = by_name(base), by_name(this)
    names = [*new, *(n for n in old if n not in new)]
    return [
        SourceRow(
            n,
            old.get(n, {}).get("fingerprint"),
            new.get(n, {}).get("fingerprint"),
            old.get(n, {}).get("rows"),
            new.get(n, {}).get("rows"),
        )
        for n in names
    ]


def _get(doc: Any, dotted: str) -> float | None:
    for part in dotted.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return float(doc) if isinstance(doc, (int, float)) and not isinstance(doc, bool) else None


def perf_rows(base: dict | None, this: dict | None, file: str = "reports/bench.json") -> list[MetricRow]:
    """The micro-benchmark's latency and throughput on the base and here."""
    rows = []
    for key, label, way in PERF_KEYS:
        old, new = _get(base, key), _get(this, key)
        if old is not None or new is not None:
            rows.append(MetricRow(file, label, old, new, way))
    return rows


def perf_verdict(row: MetricRow, tolerance: float) -> str:
    """better/worse only beyond ``tolerance`` (a share): timings on shared CI runners are noisy."""
    rel = row.relative
    if row.verdict in ("better", "worse") and rel is not None and abs(rel) <= 100 * tolerance:
        return "within noise"
    return row.verdict


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
