"""`mlctl init` helpers: infer the task and column roles from data, render params.yaml, lay out files."""
