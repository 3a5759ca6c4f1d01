"""Monitoring internals: reading current data in chunks, streaming profiles, analysis, reports.

``mlctl.stages.monitor.run`` ties them together; ``mlctl.drift`` holds the
statistical tests as pure functions.
"""
