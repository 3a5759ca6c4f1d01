"""Stage functions: one module per pipeline stage, `run(params, common, project, progress)`."""
