"""Sensor measurement helpers and the noise-buffer reader shared by the truth kernels.

Noise comes from per-model blocks of standard normal draws that ``sims.truth`` refills from one
``numpy.random.Generator(PCG64)`` stream per model (deterministic, and no RNG state inside numba).
"""

from __future__ import annotations

import math

from numba import njit

from .layout import I_CUR, I_SEG_END, I_SEG_START

SQRT2 = math.sqrt(2.0)


@njit(cache=True, inline="always")
def draw(noise, iw, stream):
    """Next standard normal of ``stream`` from the noise buffer (wraps inside its segment)."""
    c = iw[I_CUR + stream]
    if c >= iw[I_SEG_END + stream]:
        c = iw[I_SEG_START + stream]
    iw[I_CUR + stream] = c + 1
    return noise[c]


@njit(cache=True, inline="always")
def uniform_from_normal(z):
    """Map a standard normal draw to U(0, 1) through the normal CDF (exact transform)."""
    return 0.5 * math.erfc(-z / SQRT2)


@njit(cache=True, inline="always")
def lidar_geometry(x_B_m, y_B_m, z_B_m):
    """(range [m], azimuth [rad], elevation [rad]) of a line of sight in B.

    az = atan2(y, x), el = asin(z / range) (telemetry/dictionary.py DEV_LIDAR).
    """
    rng = math.sqrt(x_B_m * x_B_m + y_B_m * y_B_m + z_B_m * z_B_m)
    return rng, math.atan2(y_B_m, x_B_m), math.asin(z_B_m / rng)


@njit(cache=True, inline="always")
def quantize(value, quantum):
    """Round ``value`` to the nearest multiple of ``quantum`` (an ADC step); quantum 0 = none."""
    if quantum <= 0.0:
        return value
    return quantum * math.floor(value / quantum + 0.5)
