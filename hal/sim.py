"""In-process sim backend: the flight software reads the truth simulation's device records.

No copies in the hot path: the records handed to the flight apps *are* the records the truth
model writes its sensor samples into and reads actuator commands from. The backend knows
nothing of the truth's internals: any object with a ``devices`` dict of device records works.
"""

from __future__ import annotations

from hal.devices import ACTUATORS, SENSORS
from hal.interface import Hal


class SimBackend(Hal):
    """Bind the flight software to ``world.devices`` (e.g. ``sims.truth.Truth``)."""

    def __init__(self, world):
        devices = world.devices
        missing = [n for n in SENSORS + ACTUATORS if n not in devices]
        if missing:
            raise KeyError(f"SimBackend: the world object lacks device records {missing}")
        self.sensors = {n: devices[n] for n in SENSORS}
        self.actuators = {n: devices[n] for n in ACTUATORS}
