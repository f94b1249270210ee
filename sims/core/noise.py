"""Noise streams: the blocks of standard normal draws that the truth's kernels read.

Each stream owns one segment of a float64 noise buffer, which ``sims.truth`` refills every block of
frames from the stream's own ``numpy.random.Generator(PCG64)`` (deterministic, and no RNG state
inside numba). A kernel takes the next draw of its stream with :func:`draw`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

STREAM = np.dtype([
    ("cursor", "i8"),  # index into the noise buffer of the stream's next draw
    ("start", "i8"),   # the stream's segment of the buffer is [start, end)
    ("end", "i8"),
], align=True)

SQRT2 = math.sqrt(2.0)


@njit(cache=True, inline="always")
def draw(noise, streams, k):
    """Next standard normal of stream ``k`` (a row of the ``STREAM`` array ``streams``); wraps inside its segment."""
    s = streams[k]
    c = s.cursor
    if c >= s.end:
        c = s.start
    s.cursor = c + 1
    return noise[c]


@njit(cache=True, inline="always")
def uniform_from_normal(z):
    """Map a standard normal draw to U(0, 1) through the normal CDF (exact transform)."""
    return 0.5 * math.erfc(-z / SQRT2)
