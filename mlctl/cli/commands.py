"""The commands of `mlctl`: each one's registering module and the one-line summary `mlctl --help` lists."""

from __future__ import annotations

from mlctl.core.catalog import STAGES

HELP = (
    "Run an ML project as a versioned, tested system: collect → validate → prepare → train → "
    "evaluate → gate → export → serve / predict / bundle → monitor → retrain."
)

# Top-level command → (the module of mlctl/cli whose `register(app)` adds it, its one-line summary). A stage's
# command is registered by the module of the same name, with the stage's summary (mlctl.core.catalog).
# tests/test_cli_startup.py checks that each module registers exactly the names listed for it.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init", "create a project from a data file: git, DVC, params, CI/CD/CT"),
    "run": ("pipeline", "run the pipeline through `dvc repro`, showing each stage"),
    "params": ("pipeline", "check, show or sync (into dvc.yaml) the effective params.yaml"),
    **{stage.name: (stage.name, stage.summary) for stage in STAGES},
    "schema": ("validate", "write the data contract (pandera schema + reference profile)"),
    "exp": ("train", "run and compare DVC experiments (params sweeps)"),
    "explain": ("export", "show one example's way through the fitted pipeline"),
    "smoke": ("smoke", "check a running service: readiness, metadata, one real prediction"),
    "registry": ("registry", "register, promote and roll back model versions"),
    "remote": ("remote", "configure DVC remotes (local directory or S3-compatible)"),
    "score": ("score", "the project's ML Test Score: 28 tests, automated, manual or missing"),
}
COMMAND_MODULES = list(dict.fromkeys(module for module, _ in COMMANDS.values()))
