"""The project as a git + DVC repository: dvc.yaml generation (dvcfile), running the pipeline, the DVC remote
and the model registry on git tags.
"""
