"""The edge bundle's standalone runner (copied into the bundle as run.py)."""
