"""Fault protection: evaluates the FDIR tables (fsw/fdir_engine.py) and dispatches responses.

At ``start()`` the tables (fsw/config/fdir.toml) are checked against the records on the bus and
every response kind they use must have a responder; both fail as a WiringError naming the app,
the actionpoint and the missing piece. Each step (10 Hz) evaluates every watchpoint and
actionpoint; each newly fired response is an event (the table's severity and text) and a call of
``responders[kind](response)``. A responder that raises is caught, counted and reported: fault
protection must keep running when a recovery action fails.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from fsw.app import App, Bus, WiringError
from fsw.apps.commanding import CommandRejected
from fsw.fdir_engine import RECOVERY_RESPONSES, SIMPLE_RESPONSES, FdirEngine, FdirTableError, Response

# Response kinds a responder may be wired for (fsw.fdir_engine: SIMPLE_RESPONSES, MODE:, SWITCH_UNIT:, and the
# recoveries' RETRY).
RESPONSE_KINDS = (*SIMPLE_RESPONSES, "MODE", "SWITCH_UNIT", *RECOVERY_RESPONSES)
KIND_CODES = {kind: i for i, kind in enumerate(RESPONSE_KINDS)}


class FaultProtection(App):
    """Table-driven FDIR at 10 Hz.

    Parameters
    ----------
    name, bus, events
        As :class:`fsw.app.App`.
    tables_path : path
        fsw/config/fdir.toml.
    responders : dict of str to callable
        ``responders[kind](response: fsw.fdir_engine.Response)`` carries out a response of
        ``kind`` (one of :data:`RESPONSE_KINDS`). ``response.mode`` is the target of MODE,
        ``response.device`` / ``response.zone`` the unit of SWITCH_UNIT, ``response.t_ns`` the
        mission time. Returning ``False`` or ``(False, reason)`` reports a refusal (e.g. a mode
        transition the mode table forbids); ``None`` or anything else is success. EVENT needs no
        responder: the event every response issues is the action.
    commanding : CommandDispatcher, optional
        When given, FDIR_ENABLE is registered with it.
    """

    # the app contract (fsw/contract.py, docs/app-contract.md)
    task = "fdir"
    reads = None
    writes = ()
    event_names = ("FDIR_ENABLE", "FDIR_RESPONDER_FAILED", "FDIR_RESPONSE", "FDIR_RESPONSE_REFUSED")

    def __init__(self, name: str, bus: Bus, events, tables_path, responders: dict, commanding=None):
        super().__init__(name, bus, events)
        unknown = sorted(set(responders) - set(RESPONSE_KINDS))
        if unknown:
            raise WiringError(f"{name}: responders for unknown response kinds {unknown} "
                              f"(known: {list(RESPONSE_KINDS)})")
        self.tables_path = Path(tables_path)
        self.responders = dict(responders)
        self.engine: FdirEngine | None = None
        self._now = 0
        self.responses = 0
        self.by_kind: Counter[str] = Counter()
        self.responder_errors = 0
        self.refused = 0
        self.last_response: Response | None = None
        if commanding is not None:
            commanding.register("FDIR_ENABLE", self._cmd_enable)

    def start(self) -> None:
        """Build the engine from the bus records; check every response kind has a responder."""
        try:
            self.engine = FdirEngine(self.tables_path, self.bus.records(), lambda: self._now)
        except (FdirTableError, OSError) as err:
            raise WiringError(f"{self.name}: {err}") from err
        for i, ap in enumerate(self.engine.tables.actionpoints):
            if ap.kind != "EVENT" and ap.kind not in self.responders:
                raise WiringError(f"{self.name}: actionpoint #{i} {ap.name!r} responds {ap.response!r} but no "
                                  f"{ap.kind!r} responder is wired (wired: {sorted(self.responders)})")
        for i, rc in enumerate(self.engine.recoveries):
            if rc.response not in self.responders:
                raise WiringError(f"{self.name}: recovery #{i} {rc.name!r} responds {rc.response!r} but no "
                                  f"responder is wired for it (wired: {sorted(self.responders)})")

    def step(self, t_ns: int) -> None:
        self._now = t_ns
        for response in self.engine.evaluate(t_ns):
            self._dispatch(response)

    def _dispatch(self, r: Response) -> None:
        self.responses += 1
        self.by_kind[r.kind] += 1
        self.last_response = r
        self.emit("FDIR_RESPONSE", r.severity, r.text, (float(r.index), float(KIND_CODES[r.kind])))
        responder = self.responders.get(r.kind)
        if responder is None:
            return
        try:
            result = responder(r)
        except Exception as exc:  # a failed recovery action must not stop fault protection
            self.responder_errors += 1
            self.emit("FDIR_RESPONDER_FAILED", "ERROR", f"{r.kind} failed: {type(exc).__name__}: {exc}"[:48],
                      (float(r.index), float(KIND_CODES[r.kind])))
            return
        refused = result is False or (isinstance(result, tuple) and result and result[0] is False)
        if refused:
            self.refused += 1
            reason = result[1] if isinstance(result, tuple) and len(result) > 1 else "refused"
            self.emit("FDIR_RESPONSE_REFUSED", "WARNING", f"{r.kind} refused: {reason}"[:48],
                      (float(r.index), float(KIND_CODES[r.kind])))

    def _cmd_enable(self, args, t_ns: int) -> None:
        i = int(args["actionpoint"])
        enable = bool(args["enable"])
        try:
            self.engine.set_enabled(i, enable)
        except (IndexError, KeyError) as err:
            raise CommandRejected("ARG_OUT_OF_RANGE", str(err)) from None
        name = self.engine.ap_names[i]
        self.emit("FDIR_ENABLE", "INFO", f"FDIR {name[:30]} {'on' if enable else 'off'}", (float(i), float(enable)))

    def summary(self) -> dict:
        """The run summary's ``fdir`` section: responses by kind and by actionpoint, failures."""
        fired = {}
        if self.engine is not None:
            fired = {n: int(c) for n, c in zip(self.engine.ap_names, self.engine.ap_fire_count, strict=True) if c}
        retries = {}
        if self.engine is not None:
            retries = {rc.name: n for rc, n in zip(self.engine.recoveries, self.engine.rc_retries, strict=True) if n}
        return {"responses": self.responses, "by_kind": dict(self.by_kind), "fired": fired, "retries": retries,
                "responder_errors": self.responder_errors, "refused": self.refused}
