"""The pull-request report: this revision against a base revision, as Markdown with images.

``revisions`` finds the base and reads files at it (git), ``diff`` compares
metrics and params, ``watch`` compares packages, source fingerprints and the
micro-benchmark, ``datadrift`` the training data, ``figures`` draws the plots,
``render`` writes the Markdown and ``github`` posts it on the pull request.
``mlctl.stages.report`` ties them together.
"""

MARKER = "<!-- mlctl-report -->"  # the hidden line that identifies our own pull-request comment
