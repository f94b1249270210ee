"""The ground segment: the ``qz`` command line, run reports, timing analysis and Monte Carlo campaigns.

It reads the flight software's telemetry (``telemetry``) and starts runs through ``sims``; nothing in
``fsw``, ``hal`` or ``sims`` imports it (``tests/test_boundaries.py``).
"""
