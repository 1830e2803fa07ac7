"""``marsad demo``: a replay server for bundled real feeds (``replay.py`` decides, ``server.py``
serves), the demo's config files (``files.py``), and the orchestration (``run.py``)."""
