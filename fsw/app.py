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
        self._declared: dict[str, tuple] = {}  # app name -> (class name, reads or None, writes)

    def declare(self, app: str, cls_name: str, reads, writes) -> None:
        """``app`` (of class ``cls_name``) reads only ``reads`` (None: whatever its configuration names) and
        writes only ``writes``: the app contract (fsw/contract.py), enforced by :meth:`publish` and :meth:`get`."""
        self._declared[app] = (cls_name, None if reads is None else frozenset(reads), frozenset(writes))

    def publish(self, name: str, publisher: str, record: np.ndarray | None = None) -> np.ndarray:
        """Register ``publisher`` as the owner of ``name`` and return its record."""
        declared = self._declared.get(publisher)
        if declared is not None and name not in declared[2]:
            raise WiringError(f"{publisher}: record {name!r} is written but not declared in {declared[0]}.writes "
                              f"{sorted(declared[2])}")
        if name in self._publishers:
            raise WiringError(f"{publisher}: record {name!r} is already published by {self._publishers[name]}")
        rec = new_message(name) if record is None else record
        self._records[name] = rec
        self._publishers[name] = publisher
        return rec

    def get(self, name: str, reader: str) -> np.ndarray:
        declared = self._declared.get(reader)
        if declared is not None and declared[1] is not None and name not in declared[1]:
            raise WiringError(f"{reader}: record {name!r} is read but not declared in {declared[0]}.reads "
                              f"{sorted(declared[1])}")
        try:
            return self._records[name]
        except KeyError:
            raise WiringError(
                f"{reader}: input {name!r} is not on the bus (published: {sorted(self._records)})"
            ) from None

    def get_or_blank(self, name: str, reader: str) -> np.ndarray:
        """:meth:`get`, or a zero record of ``name``'s type, the reader's own, when no app publishes it (a flight
        without the optional publisher, e.g. without far-range guidance: no engine fired)."""
        return self.get(name, reader) if name in self._records else new_message(name)

    def __contains__(self, name: str) -> bool:
        return name in self._records

    def records(self) -> dict[str, np.ndarray]:
        return dict(self._records)

    def published_by(self, publisher: str) -> set[str]:
        """The records ``publisher`` has published so far."""
        return {name for name, who in self._publishers.items() if who == publisher}


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
    The class declares its contract (fsw/contract.py, docs/app-contract.md): ``task``, the bus records it
    ``reads`` and ``writes``, its ``config_section`` and its ``event_names``; the bus enforces reads and writes.
    """

    periodic = True
    task: str | None = None               # the schedule task it implements
    reads: tuple[str, ...] | None = ()    # bus records read (None: those its configuration names)
    writes: tuple[str, ...] = ()          # bus records published
    config_section: str | None = None     # its table in gnc.toml (or in ``config_file`` beside its module)
    config_file: str | None = None
    event_names: tuple[str, ...] = ()     # names in telemetry.dictionary.EVENTS it may issue

    def __init__(self, name: str, bus: Bus, events):
        self.name = name
        self.bus = bus
        self.events = events
        cls = type(self)
        bus.declare(name, f"{cls.__module__}:{cls.__qualname__}", cls.reads, cls.writes)

    @classmethod
    def from_context(cls, ctx):
        """Build from a :class:`fsw.contract.AppContext` (the topology's uniform constructor for apps chosen
        by configuration); an app with more collaborators overrides this."""
        return cls(ctx.name, ctx.bus, ctx.events)

    def start(self) -> None:
        """Bind inputs from the bus; raise WiringError naming the missing input."""

    def step(self, t_ns: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.step")

    def emit(self, event: str, severity: str, text: str, args=(0.0, 0.0)) -> None:
        """Issue an event of ``telemetry.dictionary.EVENTS`` by its name, from this app."""
        self.events.emit(event, severity, self.name, text, args)
