"""The pieces of deploy/grafana/render.py, the stand-in Grafana renderer, split by job.

``render.py`` next to this folder is the entry point (CLI and the order of work); this package
holds what it is built from, each module with one job and imported in this order, never back:

* ``layout``: Grafana's 24-column grid in pixels (no drawing, no I/O).
* ``query``: template variables, ``$__interval`` and friends, and the Prometheus HTTP API.
* ``units``: values formatted the way Grafana shows a unit.
* ``theme``: Grafana's light-theme colours and how a series or a value picks its colour.
* ``canvas``: the matplotlib figure addressed in pixels, legends and axes.
* ``panels``: one drawer per panel type (timeseries, stat, bargauge, heatmap, row).

The package never imports ``render.py``. It is found as a top-level package because running
``python deploy/grafana/render.py`` puts ``deploy/grafana`` first on ``sys.path``.
"""

import matplotlib

# Headless: pick the non-interactive backend before any module here imports pyplot.
matplotlib.use("Agg")
