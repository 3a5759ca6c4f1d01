"""The one exception hierarchy of mlctl and its documented exit codes.

Library code raises these; only the CLI turns them into exit codes (see
``EXIT_CODES``), so every stage fails the same way and scripts, DVC and CI can
tell a bad config from a rejected model without parsing messages.
"""

from __future__ import annotations

# Exit codes, documented in README.md ("Exit codes"). Keep the two in sync:
# tests/test_cli.py checks that every code here is listed there.
EXIT_OK = 0
EXIT_INTERNAL = 1  # a bug in mlctl or a library: run again with --debug and report it
EXIT_USAGE = 2  # bad command line, params.yaml or config value (typer also uses 2)
EXIT_NOT_FOUND = 3  # an input file, source, model or revision does not exist
EXIT_DATA_INVALID = 4  # data failed schema or quality validation
EXIT_GATE_REJECTED = 5  # the model validation gate rejected the candidate
EXIT_EXTERNAL = 6  # an external tool or service failed (dvc, git, database, HTTP)
EXIT_DRIFT = 7  # monitoring found drift or decay: retraining advised
EXIT_MODEL_INVALID = 8  # a model artifact is corrupt, mismatched or not convertible
EXIT_ALERT = 9  # monitoring found what a person must look at (skew, data quality, numerical health; monitor.policy)


class MlctlError(Exception):
    """Base of every error mlctl raises on purpose; carries where and what next."""

    exit_code = EXIT_INTERNAL
    title = "error"

    def __init__(self, message: str, *, hint: str | None = None, where: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.where = where

    def __str__(self) -> str:
        parts = [f"{self.where}: {self.message}" if self.where else self.message]
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)

    def to_dict(self) -> dict:
        """Machine-readable form for --json output."""
        return {
            "error": type(self).__name__,
            "exit_code": self.exit_code,
            "message": self.message,
            "where": self.where,
            "hint": self.hint,
        }


class ConfigError(MlctlError):
    """params.yaml or a command-line value is wrong."""

    exit_code = EXIT_USAGE
    title = "config error"


class InputNotFoundError(MlctlError):
    """A file, source, model, stage or revision that was asked for does not exist."""

    exit_code = EXIT_NOT_FOUND
    title = "not found"


class DataError(MlctlError):
    """Data cannot be read or parsed (empty file, wrong delimiter, bad encoding...)."""

    exit_code = EXIT_DATA_INVALID
    title = "data error"


class DataValidationError(DataError):
    """Data was read but failed the schema or quality checks."""

    title = "data validation failed"

    def __init__(self, message: str, *, report: dict | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.report = report or {}


class GateRejectedError(MlctlError):
    """The model validation gate rejected the candidate model."""

    exit_code = EXIT_GATE_REJECTED
    title = "model rejected"

    def __init__(self, message: str, *, report: dict | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.report = report or {}


class ModelError(MlctlError):
    """A model artifact is corrupt, does not match its manifest, or cannot be converted."""

    exit_code = EXIT_MODEL_INVALID
    title = "model error"


class ExternalError(MlctlError):
    """An external tool or service (dvc, git, a database, an HTTP server) failed."""

    exit_code = EXIT_EXTERNAL
    title = "external failure"


class DriftDetected(MlctlError):
    """Monitoring found drift or decay beyond thresholds: retraining is advised."""

    exit_code = EXIT_DRIFT
    title = "drift detected"

    def __init__(self, message: str, *, report: dict | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.report = report or {}


class MonitorAlert(MlctlError):
    """Monitoring found a problem retraining would not fix (per monitor.policy): a person must look."""

    exit_code = EXIT_ALERT
    title = "monitoring alert"

    def __init__(self, message: str, *, report: dict | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.report = report or {}


EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_INTERNAL: "internal error (a bug): rerun with --debug for the traceback",
    EXIT_USAGE: "bad usage or configuration (command line, params.yaml)",
    EXIT_NOT_FOUND: "input not found (file, source, model, revision)",
    EXIT_DATA_INVALID: "data unreadable or failed validation",
    EXIT_GATE_REJECTED: "model rejected by the gate",
    EXIT_EXTERNAL: "external tool or service failed (dvc, git, database, HTTP)",
    EXIT_DRIFT: "drift or decay detected: retraining advised",
    EXIT_MODEL_INVALID: "model artifact corrupt, mismatched or not convertible",
    EXIT_ALERT: "monitoring alert: skew, data quality or numerical health (monitor.policy)",
}
