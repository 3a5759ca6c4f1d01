"""The data layer: reading sources, schemas and validation, cleaning, profiling and drift statistics.
Pure functions over DataFrames and Arrow tables; no model code.
"""
