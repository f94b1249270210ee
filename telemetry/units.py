"""Unit constants shared by every package (the one place each is defined).

Mission time is integer nanoseconds since the run epoch everywhere (docs/architecture.md "Time").
Names elsewhere carry their unit as a suffix, spelled one way: ``_m``, ``_mps`` (m/s), ``_mps2``
(m/s^2), ``_rad``, ``_rad_s``, ``_deg``, ``_s``, ``_ns``, ``_N``, ``_Nm``, ``_kg``, ``_W``, ``_C``.
"""

NS_PER_S = 1_000_000_000  # [ns/s]
