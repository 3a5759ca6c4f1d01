"""The base layer: the error hierarchy and exit codes, file formats and atomic writes (fileio), the project root
and its path rules, progress reporting and provenance. It imports nothing else from mlctl.
"""
