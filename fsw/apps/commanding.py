"""Telecommand ingest and dispatch: validation, acknowledgement, hazardous ARM/FIRE, time tags.

Every command is answered: ACCEPTED then COMPLETED, or REJECTED with a reason code (a command a
handler refuses after its ACCEPTED gets REJECTED too). The counters count exactly the
acknowledgements sent (``accepted`` = ACCEPTED acks, ``rejected`` = REJECTED acks, ``completed`` =
COMPLETED acks); RESET_COUNTERS zeroes them and the event counters after its own COMPLETED ack, as
cFS does. Nothing a ground station sends can stop the executive: a malformed packet is rejected and
counted.
"""

from __future__ import annotations

import heapq
from collections import deque

from fsw.app import App, Bus, require
from telemetry.codec import PacketError, parse_command
from telemetry.dictionary import CMD_APID, CMD_BY_NAME, REJECT_REASONS
from telemetry.headers import peek_ids

REASON_CODES = {name: code for code, name in REJECT_REASONS.items()}
ACK_ACCEPTED, ACK_REJECTED, ACK_COMPLETED = 1, 2, 3
NO_ARM = 255


class CommandRejected(Exception):
    """Raised by a command handler that refuses a valid command (e.g. illegal in this mode)."""

    def __init__(self, reason: str, text: str):
        super().__init__(text)
        self.reason = reason


class CommandDispatcher(App):
    """Ingest uplinked packets each step; dispatch them by name to handlers apps registered."""

    # the app contract (fsw/contract.py, docs/app-contract.md)
    task = "commanding"
    reads = ()
    writes = ()
    event_names = ("CMD_ARMED", "CMD_EXECUTED", "CMD_REJECTED")

    def __init__(self, name: str, bus: Bus, events, downlink, cfg: dict):
        super().__init__(name, bus, events)
        where = f"{name} config"
        self.arm_window_ns = int(require(cfg, "arm_window_s", float, where, 0.0, 600.0) * 1e9)
        self.uplink_max = require(cfg, "uplink_queue_max", int, where, 1, 10_000)
        self.tt_max = require(cfg, "time_tag_queue_max", int, where, 0, 10_000)
        self.downlink = downlink
        self.handlers: dict[str, object] = {}
        self._uplink: deque[bytes] = deque()
        self._tt: list[tuple[int, int, bytes]] = []  # (exec t_ns, arrival order, packet)
        self._tt_order = 0
        self.armed_fc = NO_ARM
        self._armed_t_ns = 0
        self.accepted = self.rejected = self.completed = 0
        self.rejected_by_reason: dict[str, int] = {}
        self._reset_pending = False
        self.register("NOOP", lambda args, t_ns: None)
        self.register("RESET_COUNTERS", self._reset_counters)
        self.register("ARM", self._arm)
        self.register("TIME_TAG", self._time_tag)
        self.register("CLEAR_TT_QUEUE", self._clear_tt)

    def register(self, command: str, handler) -> None:
        """``handler(args: dict, t_ns)`` runs ``command``; it may raise CommandRejected."""
        if command not in CMD_BY_NAME:
            raise KeyError(f"{self.name}: cannot register unknown command {command!r}")
        if command in self.handlers:
            raise KeyError(f"{self.name}: command {command!r} already has a handler")
        self.handlers[command] = handler

    @property
    def tt_queue_depth(self) -> int:
        return len(self._tt)

    def uplink(self, packet: bytes) -> None:
        """Queue one command packet from the ground link (any bytes; validated at the next step)."""
        if len(self._uplink) >= self.uplink_max:
            self._reject(packet, 0, "QUEUE_FULL", "uplink queue full")
            return
        self._uplink.append(bytes(packet))

    def step(self, t_ns: int) -> None:
        self._now = t_ns
        while self._tt and self._tt[0][0] <= t_ns:
            self._execute(heapq.heappop(self._tt)[2], t_ns)
        while self._uplink:
            self._execute(self._uplink.popleft(), t_ns)

    def _execute(self, packet: bytes, t_ns: int) -> None:
        try:
            cmd = parse_command(packet)
        except PacketError as err:
            self._reject(packet, t_ns, err.reason, str(err))
            return
        command = cmd.command
        fc = command.function_code
        if command.hazardous:
            if self.armed_fc != fc or t_ns - self._armed_t_ns > self.arm_window_ns:
                self._ack(command.apid, fc, cmd.seq_count, ACK_REJECTED, "NOT_ARMED", t_ns)
                self._count_reject("NOT_ARMED", t_ns, f"{command.name} not armed (ARM then FIRE within window)")
                return
            self.armed_fc = NO_ARM
        handler = self.handlers.get(command.name)
        if handler is None:
            self._ack(command.apid, fc, cmd.seq_count, ACK_REJECTED, "UNKNOWN_FUNCTION", t_ns)
            self._count_reject("UNKNOWN_FUNCTION", t_ns, f"{command.name}: no app handles it in this topology")
            return
        self._ack(command.apid, fc, cmd.seq_count, ACK_ACCEPTED, "NONE", t_ns)
        try:
            handler(cmd.args, t_ns)
        except CommandRejected as rej:
            self._ack(command.apid, fc, cmd.seq_count, ACK_REJECTED, rej.reason, t_ns)
            self._count_reject(rej.reason, t_ns, f"{command.name}: {rej}")
            return
        except Exception as exc:  # a handler bug must not stop the executive
            self._ack(command.apid, fc, cmd.seq_count, ACK_REJECTED, "EXECUTION_FAILED", t_ns)
            self._count_reject("EXECUTION_FAILED", t_ns, f"{command.name}: {type(exc).__name__}: {exc}")
            return
        self._ack(command.apid, fc, cmd.seq_count, ACK_COMPLETED, "NONE", t_ns)
        self.emit("CMD_EXECUTED", "INFO", f"command {command.name} completed", (float(fc), 0.0))
        if self._reset_pending:
            self._reset_pending = False
            self.accepted = self.rejected = self.completed = 0
            self.rejected_by_reason.clear()
            self.events.reset_counters()

    def _reject(self, packet: bytes, t_ns: int, reason: str, text: str) -> None:
        apid, fc, seq = peek_ids(packet)
        self._ack(apid, fc, seq, ACK_REJECTED, reason, t_ns)
        self._count_reject(reason, t_ns, text)

    def _count_reject(self, reason: str, t_ns: int, text: str) -> None:
        # the EVENT packet cuts the text to the dictionary's length (fsw.executive.events.packet_text)
        self.emit("CMD_REJECTED", "WARNING", text, (float(REASON_CODES.get(reason, 0)), 0.0))

    def _ack(self, apid: int, fc: int, seq: int, status: int, reason: str, t_ns: int) -> None:
        """Send one CMD_ACK and count it: the counters are the acknowledgements sent."""
        if status == ACK_ACCEPTED:
            self.accepted += 1
        elif status == ACK_COMPLETED:
            self.completed += 1
        else:
            self.rejected += 1
            self.rejected_by_reason[reason] = self.rejected_by_reason.get(reason, 0) + 1
        self.downlink.send_values("CMD_ACK", t_ns, (apid, fc, seq, status, REASON_CODES[reason]))

    def _reset_counters(self, args, t_ns):
        self._reset_pending = True  # after this command's own COMPLETED ack

    def _arm(self, args, t_ns):
        target = int(args["target_fc"])
        hazardous = {c.function_code for c in CMD_BY_NAME.values() if c.hazardous and c.apid == CMD_APID}
        if target not in hazardous:
            raise CommandRejected("ARG_OUT_OF_RANGE", f"function code {target} is not a hazardous command")
        self.armed_fc = target
        self._armed_t_ns = t_ns
        self.emit("CMD_ARMED", "INFO", f"armed function code {target}", (float(target), 0.0))

    def _time_tag(self, args, t_ns):
        if len(self._tt) >= self.tt_max:
            raise CommandRejected("QUEUE_FULL", f"time-tag queue holds {self.tt_max}")
        inner = bytes(args["packet"][: args["packet_len"]])
        self._tt_order += 1
        heapq.heappush(self._tt, (int(round(args["exec_time_s"] * 1e9)), self._tt_order, inner))

    def _clear_tt(self, args, t_ns):
        self._tt.clear()
