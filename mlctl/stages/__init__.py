"""Stage functions: one module per stage, or one package holding the stage and its private helpers.

Each stage exposes `run(params, common, project, progress)`; the CLI in mlctl.cli calls it.
"""
