"""Housekeeping: every telemetry packet at its configured rate, plus mode/commanding/executive status."""

from __future__ import annotations

from fsw.app import App, Bus, ConfigError
from fsw.apps.commanding import CommandRejected
from telemetry.dictionary import TM_BY_APID, TM_BY_NAME

_TIMING_FIELDS = tuple(f.name for f in TM_BY_NAME["EXEC_TASK_TIMING"].fields)


class Housekeeping(App):
    """Runs at the housekeeping rate; packet ``P`` goes out every ``divisors[P]`` calls (0 = off)."""

    # the app contract (fsw/contract.py, docs/app-contract.md)
    task = "housekeeping"
    reads = None
    writes = ("EXEC_STATUS", "HK_STATUS")

    def __init__(self, name: str, bus: Bus, events, downlink, divisors: dict[str, int]):
        super().__init__(name, bus, events)
        self.downlink = downlink
        for pkt, div in divisors.items():
            if pkt not in TM_BY_NAME or TM_BY_NAME[pkt].device:
                raise ConfigError(f"{name}: telemetry.{pkt}: not a telemetry packet of the dictionary")
            if not isinstance(div, int) or isinstance(div, bool) or div < 0:
                raise ConfigError(f"{name}: telemetry.{pkt}: divisor must be an integer >= 0, got {div!r}")
        self.divisors = dict(divisors)
        self.hk = bus.publish("HK_STATUS", name)
        self.exec_status = bus.publish("EXEC_STATUS", name)
        self._calls = 0
        self._sources = []
        self.modes = self.commanding = self.executive = None

    def attach(self, modes, commanding, executive) -> None:
        """Objects whose counters housekeeping reports (set by the topology)."""
        self.modes, self.commanding, self.executive = modes, commanding, executive
        commanding.register("SET_TLM_DIVISOR", self._set_divisor)

    def start(self) -> None:
        if self.modes is None or self.commanding is None or self.executive is None:
            raise RuntimeError(f"{self.name}: attach(modes, commanding, executive) was not called")
        self._mode = self.bus.get("MODE", self.name)
        # Records sent as they are; the EXEC_TASK_TIMING packets are built from executive stats.
        self._sources = [(pkt, self.bus.get(pkt, self.name)) for pkt in self.divisors
                         if pkt not in ("EXEC_TASK_TIMING", "EVENT", "CMD_ACK")]

    def _set_divisor(self, args, t_ns):
        pkt = TM_BY_APID.get(int(args["apid"]))
        if pkt is None or pkt.device or pkt.name in ("EVENT", "CMD_ACK"):
            raise CommandRejected("ARG_OUT_OF_RANGE", f"APID {args['apid']} is not periodic telemetry")
        if pkt.name not in self.divisors:
            raise CommandRejected("ARG_OUT_OF_RANGE", f"{pkt.name} is not produced in this topology")
        self.divisors[pkt.name] = int(args["divisor"])

    def _fill_status(self, t_ns: int) -> None:
        hk, cmd, ev, ex = self.hk, self.commanding, self.events, self.executive
        hk["t_ns"] = t_ns
        hk["seq"] += 1
        hk["mode"] = self._mode["mode"]
        hk["prev_mode"] = self._mode["prev_mode"]
        hk["cmd_accepted"] = min(cmd.accepted, 0xFFFF)
        hk["cmd_rejected"] = min(cmd.rejected, 0xFFFF)
        hk["cmd_completed"] = min(cmd.completed, 0xFFFF)
        hk["tt_queue_depth"] = min(cmd.tt_queue_depth, 0xFF)
        hk["armed_fc"] = cmd.armed_fc
        hk["event_count"] = ev.issued
        hk["events_throttled"] = ev.throttled
        hk["apps_failed"] = ex.failed_mask
        es = self.exec_status
        es["t_ns"] = t_ns
        es["seq"] += 1
        for key, value in ex.exec_status().items():
            es[key] = value

    def step(self, t_ns: int) -> None:
        self.events.flush_expired(t_ns)  # suppressed events of ended throttle windows, with their count
        self._calls += 1
        calls = self._calls
        self._fill_status(t_ns)
        send = self.downlink.send_record
        div = self.divisors
        for pkt, rec in self._sources:
            d = div[pkt]
            if d and calls % d == 0:
                send(pkt, t_ns, rec)
        d = div.get("EXEC_TASK_TIMING", 0)
        if d and calls % d == 0:
            self.send_task_timing(t_ns)

    def send_task_timing(self, t_ns: int) -> None:
        """One EXEC_TASK_TIMING packet per scheduled task."""
        for row in self.executive.task_timing():
            row["task_name"] = row["task_name"].encode()[:16]
            self.downlink.send_values("EXEC_TASK_TIMING", t_ns, tuple(row[f] for f in _TIMING_FIELDS))
