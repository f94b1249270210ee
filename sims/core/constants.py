"""Constants of nature used by the truth kernels (the only literals the kernels may hold).

Mission and vehicle numbers (Earth model, orbit, vehicle, sensors) live in the scenario TOML files;
these are physical constants that no scenario should change.
"""

from __future__ import annotations

import math

G0_M_S2 = 9.80665  # [m/s^2] standard gravity (defines Isp in seconds), BIPM/CGPM 1901
SIGMA_W_M2_K4 = 5.670374419e-8  # [W/(m^2 K^4)] Stefan-Boltzmann constant, CODATA 2018
KELVIN_OFFSET_K = 273.15  # [K] 0 degC in kelvin
AU_M = 1.495978707e11  # [m] astronomical unit, IAU 2012 B2
SUN_RADIUS_M = 6.957e8  # [m] nominal solar radius, IAU 2015 B3
DEG_RAD = math.pi / 180.0  # [rad/deg]
ARCSEC_RAD = DEG_RAD / 3600.0  # [rad/arcsec]
SECONDS_PER_HOUR = 3600.0  # [s/h]
NS_PER_S = 1_000_000_000  # [ns/s]
