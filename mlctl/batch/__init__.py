"""Batch scoring: input readers, the chunk scorer, streaming writers and the Dask engine."""
