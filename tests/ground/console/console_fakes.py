"""A stand-in for a flight's ground link, for the console's tests that need no simulation: a TCP server that
sends the telemetry packets a test gives it and answers telecommands with CMD_ACKs (ACCEPTED, then COMPLETED,
or REJECTED NOT_ARMED for a hazardous command without its ARM, or as told), checking the SDLS MAC when given keys."""

from __future__ import annotations

import select
import socket
import threading
import time

from telemetry import sdls
from telemetry.codec import PacketError, parse_command, tm_codec
from telemetry.dictionary import TM_BY_NAME
from telemetry.framing import PLAIN, Deframer, frame

ACCEPTED, REJECTED, COMPLETED = 1, 2, 3
NOT_ARMED, UNAUTHENTICATED, BAD_MAC = 5, 11, 13


def zero_values(name: str) -> list:
    """A flat value list of packet ``name`` with every field zero (char fields empty)."""
    out = []
    for f in TM_BY_NAME[name].fields:
        out.extend([b""] if f.type == "char" else [0] * f.count)
    return out


def values_of(name: str, **fields) -> list:
    """Flat values of ``name``: zeros, with the given fields set (a list for an array field)."""
    out = []
    for f in TM_BY_NAME[name].fields:
        v = fields.get(f.name)
        if f.type == "char":
            out.append((v or "").encode() if isinstance(v, str) or v is None else v)
        elif f.count == 1:
            out.append(0 if v is None else v)
        else:
            out.extend([0] * f.count if v is None else list(v))
    return out


class FakeFlight:
    """A flight's TCP ground link without a flight behind it.

    ``send(name, t_s, **fields)`` downlinks one packet to every client; ``commands`` lists the telecommands
    received as ``(name, args)``; ``drop_clients()`` closes every connection as a dying flight would.
    """

    def __init__(self, keys: dict[int, bytes] | None = None, port: int = 0, reject: dict[str, int] | None = None,
                 silent: tuple[str, ...] = ()):
        self.keys = keys
        self.reject = reject or {}   # command name -> rejection reason code (after ACCEPTED)
        self.silent = silent         # commands never acknowledged
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", port))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.url = f"tcp://127.0.0.1:{self.port}"
        self.clients: dict[socket.socket, Deframer] = {}
        self.commands: list[tuple[str, dict]] = []
        self.rejected: list[str] = []
        self.seq: dict[str, int] = {}
        self.t_s = 0.0
        self.armed = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def wait_clients(self, n: int = 1, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.clients) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"the fake flight has {len(self.clients)} client(s), expected {n}")
            time.sleep(0.02)

    def send(self, name: str, t_s: float | None = None, **fields) -> None:
        if t_s is not None:
            self.t_s = t_s
        seq = self.seq.get(name, 0)
        self.seq[name] = (seq + 1) % 16384
        data = frame(tm_codec(name).pack(seq, int(round(self.t_s * 1e9)), values_of(name, **fields)))
        with self._lock:
            for c in list(self.clients):
                try:
                    c.sendall(data)
                except OSError:
                    self._drop(c)

    def drop_clients(self) -> None:
        with self._lock:
            for c in list(self.clients):
                self._drop(c)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self.drop_clients()
        self.server.close()

    def _drop(self, c) -> None:
        self.clients.pop(c, None)
        try:
            c.close()
        except OSError:
            pass

    def _ack(self, cmd_apid: int, fc: int, seq: int, status: int, reason: int = 0) -> None:
        self.send("CMD_ACK", cmd_apid=cmd_apid, function_code=fc, cmd_seq=seq, status=status, reason=reason)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                socks = [self.server, *self.clients]
            try:
                readable = select.select(socks, [], [], 0.05)[0]
            except (OSError, ValueError):
                continue
            for s in readable:
                if s is self.server:
                    conn, _ = self.server.accept()
                    with self._lock:
                        self.clients[conn] = Deframer(layouts=(PLAIN, sdls.LAYOUT))
                    continue
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    with self._lock:
                        self._drop(s)
                    continue
                res = self.clients[s].feed(data) if s in self.clients else None
                for body, layout in zip(res.packets if res else [], res.layouts if res else [], strict=True):
                    self._telecommand(body, layout)

    def _telecommand(self, body: bytes, layout: int) -> None:
        if self.keys is not None:
            if layout == 0:
                self.rejected.append("UNAUTHENTICATED")
                return
            verdict, _, _, packet = sdls.verify(body, self.keys)
            if verdict != "OK":
                self.rejected.append(verdict)
                return
        else:
            packet = body
        try:
            cmd = parse_command(packet)
        except PacketError as err:
            self.rejected.append(err.reason)
            return
        fc = cmd.command.function_code
        self.commands.append((cmd.command.name, dict(cmd.args)))
        if cmd.command.name in self.silent:
            return
        self._ack(cmd.apid, fc, cmd.seq_count, ACCEPTED)
        if cmd.command.name in self.reject:
            self._ack(cmd.apid, fc, cmd.seq_count, REJECTED, self.reject[cmd.command.name])
            return
        if cmd.command.hazardous and self.armed != fc:
            self._ack(cmd.apid, fc, cmd.seq_count, REJECTED, NOT_ARMED)
            return
        self.armed = cmd.args["target_fc"] if cmd.command.name == "ARM" else None
        self._ack(cmd.apid, fc, cmd.seq_count, COMPLETED)
