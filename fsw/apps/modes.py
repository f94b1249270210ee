"""Mode manager: the vehicle mode and the table of allowed transitions."""

from __future__ import annotations

import tomllib
from pathlib import Path

from fsw.app import App, Bus, ConfigError
from telemetry.dictionary import MODES

MODE_CODES = {name: code for code, name in MODES.items()}


def load_mode_table(path: Path) -> tuple[int, dict[int, frozenset[int]]]:
    """Read the transition table; unknown mode names fail naming file and key."""
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)

    def code(name, where):
        if name not in MODE_CODES:
            raise ConfigError(f"{path}: {where}: unknown mode {name!r}; known: {sorted(MODE_CODES)}")
        return MODE_CODES[name]

    initial = code(raw.get("initial", "STANDBY"), "initial")
    allowed_raw = raw.get("allowed")
    if not isinstance(allowed_raw, dict):
        raise ConfigError(f"{path}: missing table [allowed]")
    allowed = {code(src, f"allowed.{src}"): frozenset(code(d, f"allowed.{src}") for d in dests)
               for src, dests in allowed_raw.items()}
    for c in MODES:
        allowed.setdefault(c, frozenset())
    return initial, allowed


class ModeManager(App):
    """Holds the MODE record; every transition, commanded or autonomous, goes through ``request``."""

    # the app contract (fsw/contract.py, docs/app-contract.md)
    task = "modes"
    reads = ()
    writes = ("MODE",)
    event_names = ("MODE_CHANGED", "MODE_REJECTED")

    periodic = False  # transitions happen on request: no schedule row

    def __init__(self, name: str, bus: Bus, events, table_path: Path, initial: str | None = None):
        super().__init__(name, bus, events)
        initial_code, self.allowed = load_mode_table(table_path)
        if initial is not None:
            if initial not in MODE_CODES:
                raise ConfigError(f"{name}: initial mode {initial!r} unknown; known: {sorted(MODE_CODES)}")
            initial_code = MODE_CODES[initial]
        self.record = bus.publish("MODE", name)
        self.record["mode"] = initial_code
        self.record["prev_mode"] = initial_code
        self.record["seq"] = 1  # the initial mode is a value readers (FDIR) must see, not "never written"
        self.transitions = 0
        self.rejections = 0
        self._listeners = []

    @property
    def mode(self) -> str:
        return MODES[int(self.record["mode"])]

    def on_change(self, callback) -> None:
        """Call ``callback(old_name, new_name, t_ns)`` after every transition."""
        self._listeners.append(callback)

    def request(self, mode: str, source: str, t_ns: int) -> tuple[bool, str]:
        """Ask for a transition; returns (done, reason). Same-mode requests are accepted no-ops."""
        if mode not in MODE_CODES:
            return False, f"unknown mode {mode!r}"
        old = int(self.record["mode"])
        new = MODE_CODES[mode]
        if new == old:
            return True, "already in mode"
        if new not in self.allowed[old]:
            self.rejections += 1
            self.emit("MODE_REJECTED", "WARNING",
                      f"{source}: {MODES[old]}->{mode} not allowed", (float(old), float(new)))
            return False, f"{MODES[old]} -> {mode} is not an allowed transition"
        rec = self.record
        rec["prev_mode"] = old
        rec["mode"] = new
        rec["entered_t_ns"] = t_ns
        rec["t_ns"] = t_ns
        rec["seq"] += 1
        self.transitions += 1
        self.emit("MODE_CHANGED", "INFO", f"mode {MODES[old]} -> {mode} ({source})", (float(old), float(new)))
        for cb in self._listeners:
            cb(MODES[old], mode, t_ns)
        return True, "ok"

    def step(self, t_ns: int) -> None:
        """Transitions happen on request; nothing periodic."""
