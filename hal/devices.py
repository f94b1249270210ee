"""Device records: what the HAL hands the flight software and what actuators receive.

A device record is a 0-d numpy structured array whose dtype is derived from the device packet
of the same name in ``telemetry.dictionary`` (so the HIL wire format and the in-process record
cannot drift apart). Sensors fill ``t_ns`` (sample time), ``seq`` (+1 per new sample) and the
packet fields; flight apps detect a new sample by a change of ``seq``.
"""

from __future__ import annotations

import numpy as np

from telemetry.dictionary import TELEMETRY, record_dtype

SENSORS = tuple(p.name for p in TELEMETRY if p.device and p.name.startswith("DEV_"))
ACTUATORS = tuple(p.name for p in TELEMETRY if p.device and p.name.startswith("ACT_"))


def new_record(name: str) -> np.ndarray:
    """A zeroed 0-d record for device packet ``name`` (e.g. ``"DEV_GYRO"``)."""
    if name not in SENSORS and name not in ACTUATORS:
        raise KeyError(f"new_record: {name!r} is not a device packet; known: {SENSORS + ACTUATORS}")
    return np.zeros((), dtype=record_dtype(name))


def new_device_set() -> dict[str, np.ndarray]:
    """One record per sensor and actuator, keyed by packet name."""
    return {name: new_record(name) for name in SENSORS + ACTUATORS}
