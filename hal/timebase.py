"""The HAL's one time source: link timeouts, staleness and reconnect back-off are wall-time matters.

Mission time comes from the executive's clock; the serial links measure real waiting (a device that
is silent for 0.5 s is silent for 0.5 s of wall time, in lockstep too). Everything in ``hal`` reads
time through this module, so a test can replace it and the boundary test can see where time enters.
"""

from __future__ import annotations

import time

#: [s] monotonic wall time, for link timeouts (never for mission time)
monotonic_s = time.perf_counter
