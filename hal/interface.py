"""The HAL seen by the flight software: device records in, actuator records out.

A backend owns one record per device (``hal.devices``). Flight apps bind to those records
once at start-up and read/write them in place; the executive calls ``poll`` before the first
task of a frame (new sensor data in) and ``flush`` after the last (actuator commands out).
"""

from __future__ import annotations

import numpy as np


class Hal:
    """Interface every backend implements (sim: in-process truth; serial: pyserial links)."""

    sensors: dict[str, np.ndarray]
    actuators: dict[str, np.ndarray]

    def sensor(self, name: str) -> np.ndarray:
        try:
            return self.sensors[name]
        except KeyError:
            raise KeyError(f"HAL: no sensor {name!r}; this backend has {sorted(self.sensors)}") from None

    def actuator(self, name: str) -> np.ndarray:
        try:
            return self.actuators[name]
        except KeyError:
            raise KeyError(f"HAL: no actuator {name!r}; this backend has {sorted(self.actuators)}") from None

    def poll(self, t_ns: int) -> None:
        """Bring in sensor data that arrived since the last frame."""

    def flush(self, t_ns: int) -> None:
        """Send this frame's actuator commands."""

    def close(self) -> None:
        """Release ports and threads."""
