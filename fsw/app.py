"""Base class of flight applications and the software bus they share.

Apps are thin: they read inputs from the bus (records bound once at start-up), call
``fsw.core`` kernels and write outputs in place. Wiring mistakes fail at start-up with a
message naming the app and the field, never as a wrong value mid-run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fsw.messages import new_message


class WiringError(RuntimeError):
    """An app's input is not on the bus, or two apps publish the same record."""


class ConfigError(ValueError):
    """A flight configuration value is missing, of the wrong type or out of range."""


class Bus:
    """Named records; each record has exactly one publisher."""

    def __init__(self):
        self._records: dict[str, np.ndarray] = {}
        self._publishers: dict[str, str] = {}

    def publish(self, name: str, publisher: str, record: np.ndarray | None = None) -> np.ndarray:
        """Register ``publisher`` as the owner of ``name`` and return its record."""
        if name in self._publishers:
            raise WiringError(f"{publisher}: record {name!r} is already published by {self._publishers[name]}")
        rec = new_message(name) if record is None else record
        self._records[name] = rec
        self._publishers[name] = publisher
        return rec

    def get(self, name: str, reader: str) -> np.ndarray:
        try:
            return self._records[name]
        except KeyError:
            raise WiringError(
                f"{reader}: input {name!r} is not on the bus (published: {sorted(self._records)})"
            ) from None

    def __contains__(self, name: str) -> bool:
        return name in self._records

    def records(self) -> dict[str, np.ndarray]:
        return dict(self._records)


def require(cfg: dict[str, Any], key: str, kind: type | tuple, where: str, lo=None, hi=None):
    """Fetch ``cfg[key]`` checking type and range; raise ConfigError naming ``where`` and ``key``."""
    if key not in cfg:
        raise ConfigError(f"{where}: missing key {key!r}")
    value = cfg[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{where}: key {key!r} must be {getattr(kind, '__name__', kind)}, got {value!r}")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise ConfigError(f"{where}: key {key!r} = {value!r} is outside [{lo}, {hi}]")
    return value


class App:
    """A flight application: ``start()`` binds and checks wiring, ``step(t_ns)`` runs one call.

    A periodic app (the default) must have a ``[[schedule]]`` row in flight.toml, or the topology
    refuses to start; an app that acts only on requests (the mode manager) sets ``periodic = False``.
    """

    periodic = True

    def __init__(self, name: str, bus: Bus, events):
        self.name = name
        self.bus = bus
        self.events = events

    def start(self) -> None:
        """Bind inputs from the bus; raise WiringError naming the missing input."""

    def step(self, t_ns: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.step")

    def emit(self, event: str, severity: str, text: str, args=(0.0, 0.0)) -> None:
        """Issue an event of ``telemetry.dictionary.EVENTS`` by its name, from this app."""
        self.events.emit(event, severity, self.name, text, args)
