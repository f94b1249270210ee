"""Ground link: every telemetry packet out to each connected client, authenticated telecommands in.

Once per cycle (10 Hz, before commanding) the app services its transport without waiting: it takes
new and closed connections, reads at most ``rx_bytes_per_cycle`` per client, deframes, authenticates
(``fsw.link.auth``) and hands accepted telecommands to the command dispatcher; then it writes each
client's queue as far as the client takes it. Every downlinked packet is queued to every client
(``enqueue``, the downlink's tee); a full queue drops its oldest packet and counts it for that client.
Rejections never reach the dispatcher: they are counted by reason, reported in GROUND_LINK, in a
throttled event per reason and cycle and (up to ``reject_acks_per_cycle`` per cycle) in a CMD_ACK REJECTED.

The transport (``hal.ground_link``, chosen by the runner) is duck-typed:

- ``framed``: True for byte streams of frames (TCP, serial), False for one packet per datagram (UDP);
- ``service(rx_bytes) -> (opened, closed, data)``: ``opened`` = ``[(cid, peer, loopback)]``,
  ``closed`` = ``[cid]``, ``data`` = ``[(cid, bytes, loopback)]`` (stream bytes, or one datagram each);
- ``write(cid, data) -> int``: bytes accepted now (0: would block), -1 when the client is gone;
- ``disconnect(cid)``; ``url``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fsw.app import App, Bus, require
from fsw.link.auth import OK, REASONS, Authenticator
from fsw.link.queues import ClientQueue
from telemetry import sdls
from telemetry.dictionary import REJECT_REASONS, TM_BY_NAME
from telemetry.framing import PLAIN, Deframer, frame
from telemetry.headers import PRIMARY_HEADER_SIZE, TC_HEADER_SIZE, peek_ids, peek_length

REASON_CODES = {name: code for code, name in REJECT_REASONS.items()}
RATE_LIMITED = "RATE_LIMITED"
MALFORMED = "MALFORMED"
LINK_REASONS = (*REASONS, RATE_LIMITED, MALFORMED)
ACK_REJECTED = 2
LAYOUTS = (PLAIN, sdls.LAYOUT)  # plain telecommand frame, authenticated telecommand frame
CLIENTS_KEPT = 256              # closed clients kept for the summary (the totals count them all)
U32 = 0xFFFFFFFF

_STATS_FIELDS = tuple(f.name for f in TM_BY_NAME["GROUND_LINK"].fields)


@dataclass
class LinkSetup:
    """What the runner gives the topology to serve a ground link."""

    transport: object
    keys: dict = field(default_factory=dict)         # SPI -> key; empty: plain from loopback only
    last_arsn: dict = field(default_factory=dict)    # SPI -> last accepted ARSN (ARSN state file)
    persist_arsn: object = None                      # callable(dict) storing the ARSN state
    service_every: int = 1                           # cycles between services of the transport (>1: unpaced SIL)


class _Client:
    __slots__ = ("cid", "peer", "loopback", "queue", "deframer", "opened_ns", "closed_ns", "frames_in",
                 "accepted", "rejected", "tc_this_cycle", "gone")

    def __init__(self, cid, peer, loopback, queue, deframer, t_ns):
        self.cid, self.peer, self.loopback = cid, peer, loopback
        self.queue, self.deframer = queue, deframer
        self.opened_ns, self.closed_ns = t_ns, None
        self.frames_in = self.accepted = self.tc_this_cycle = 0
        self.rejected: dict[str, int] = {}
        self.gone = False

    def summary(self) -> dict:
        d = self.deframer.stats if self.deframer is not None else None
        return {"peer": self.peer, "loopback": self.loopback, "opened_s": self.opened_ns / 1e9,
                "closed_s": None if self.closed_ns is None else self.closed_ns / 1e9,
                "packets_out": self.queue.sent, "bytes_out": self.queue.bytes_sent, "drops": self.queue.dropped,
                "queued": len(self.queue), "frames_in": self.frames_in, "tc_accepted": self.accepted,
                "rejected_by_reason": dict(self.rejected),
                "crc_errors": d.crc_errors if d else 0, "bytes_skipped": d.bytes_skipped if d else 0}


class GroundLink(App):
    """The ground link app; see the module docstring. Without a transport its step does nothing."""

    # the app contract (fsw/contract.py, docs/app-contract.md)
    task = "ground_link"
    reads = ()
    writes = ()
    event_names = ("ARSN_STORE_FAILED", "CLIENT_CLOSED", "CLIENT_OPENED", "CLIENT_REFUSED", "TC_REJECTED")

    def __init__(self, name: str, bus: Bus, events, downlink, commanding, cfg: dict, setup: LinkSetup | None = None):
        super().__init__(name, bus, events)
        where = f"{name} config"
        self.queue_max = require(cfg, "queue_packets", int, where, 1, 1_000_000)
        self.max_clients = require(cfg, "max_clients", int, where, 1, 1000)
        self.rx_bytes = require(cfg, "rx_bytes_per_cycle", int, where, 64, 1 << 24)
        self.tc_per_cycle = require(cfg, "tc_per_cycle", int, where, 1, 100_000)
        self.acks_per_cycle = require(cfg, "reject_acks_per_cycle", int, where, 0, 1000)
        self.stats_divisor = require(cfg, "stats_divisor", int, where, 0, 100_000)
        self.downlink = downlink
        self.commanding = commanding
        self.transport = setup.transport if setup else None
        self.auth = Authenticator(setup.keys, setup.last_arsn, setup.persist_arsn) if setup else Authenticator()
        self.framed = bool(getattr(self.transport, "framed", True))
        self.service_every = max(1, int(setup.service_every)) if setup else 1
        self.clients: dict[int, _Client] = {}
        self.closed: list[_Client] = []
        self._calls = 0
        self._now_ns = 0
        self._acks_left = 0
        self._cycle_rejects: dict[str, list] = {}
        self.totals = dict.fromkeys(("clients_total", "clients_refused", "frames_in", "bytes_in", "tc_accepted",
                                     "arsn_store_errors", "closed_frames_out", "closed_bytes_out", "closed_drops",
                                     "closed_crc_errors", "closed_bytes_skipped", "acks_suppressed"), 0)
        self.rejected = dict.fromkeys(LINK_REASONS, 0)

    # ------------------------------------------------------------------ downlink tee
    def enqueue(self, packet: bytes) -> None:
        """Queue one downlinked packet to every client (framed for stream transports)."""
        clients = self.clients
        if not clients:
            return
        item = frame(packet) if self.framed else packet
        for c in clients.values():
            c.queue.push(item)

    # ------------------------------------------------------------------ per cycle
    def step(self, t_ns: int) -> None:
        transport = self.transport
        if transport is None:
            return
        self._now_ns = t_ns
        self._calls += 1
        if self.stats_divisor and self._calls % self.stats_divisor == 0:
            self.downlink.send_values("GROUND_LINK", t_ns, self._stats_values())
        if self._calls % self.service_every:
            return
        opened, closed, data = transport.service(self.rx_bytes)
        for cid in closed:
            self._close(cid, t_ns, "closed by the client")
        for cid, peer, loopback in opened:
            self._open(cid, peer, loopback, t_ns)
        self._acks_left = self.acks_per_cycle
        for c in self.clients.values():
            c.tc_this_cycle = 0
        for cid, chunk, loopback in data:
            self._ingest(cid, chunk, loopback, t_ns)
        if self._cycle_rejects:
            for reason, (n, peer) in self._cycle_rejects.items():  # one event per reason and cycle, not per frame
                self.emit("TC_REJECTED", "WARNING", f"link: {n} {reason} from {peer}"[:48],
                          (float(REASON_CODES[reason]), float(n)))
            self._cycle_rejects.clear()
        try:
            self.auth.flush()
        except OSError as exc:  # a full disk must not stop the link; the next accepted command retries
            self.totals["arsn_store_errors"] += 1
            self.auth._dirty = True
            self.emit("ARSN_STORE_FAILED", "ERROR", f"ARSN state not stored: {exc}"[:48])
        self._drain(t_ns)

    def _drain(self, t_ns: int) -> None:
        write = self.transport.write
        gone = []
        for cid, c in self.clients.items():
            if c.queue and not c.queue.drain(lambda data, cid=cid: write(cid, data)):
                gone.append(cid)
        for cid in gone:
            self._close(cid, t_ns, "write failed")

    def drain(self) -> int:
        """Write queued packets as far as the clients take them now (end of run); return packets still queued."""
        if self.transport is None:
            return 0
        self._drain(self._now_ns)
        return sum(len(c.queue) for c in self.clients.values())

    def _open(self, cid: int, peer: str, loopback: bool, t_ns: int) -> None:
        if len(self.clients) >= self.max_clients:
            self.totals["clients_refused"] += 1
            self.transport.disconnect(cid)
            self.emit("CLIENT_REFUSED", "WARNING", f"link: refused {peer}: {self.max_clients} clients"[:48])
            return
        deframer = Deframer(layouts=LAYOUTS) if self.framed else None
        self.clients[cid] = _Client(cid, peer, loopback, ClientQueue(self.queue_max, datagram=not self.framed),
                                    deframer, t_ns)
        self.totals["clients_total"] += 1
        self.emit("CLIENT_OPENED", "INFO", f"link: client {peer} connected"[:48], (float(cid), 0.0))

    def _close(self, cid: int, t_ns: int, why: str) -> None:
        c = self.clients.pop(cid, None)
        if c is None:
            return
        self.transport.disconnect(cid)
        c.closed_ns = t_ns
        t = self.totals
        t["closed_frames_out"] += c.queue.sent
        t["closed_bytes_out"] += c.queue.bytes_sent
        t["closed_drops"] += c.queue.dropped
        if c.deframer is not None:
            t["closed_crc_errors"] += c.deframer.stats.crc_errors
            t["closed_bytes_skipped"] += c.deframer.stats.bytes_skipped
        self.closed.append(c)
        if len(self.closed) > CLIENTS_KEPT:
            del self.closed[0]
        self.emit("CLIENT_CLOSED", "INFO", f"link: {c.peer} {why}"[:48], (float(cid), float(c.queue.dropped)))

    def _ingest(self, cid: int, chunk: bytes, loopback: bool, t_ns: int) -> None:
        c = self.clients.get(cid)
        self.totals["bytes_in"] += len(chunk)
        if self.framed:
            if c is None:
                return
            res = c.deframer.feed(chunk)
            for body, layout in zip(res.packets, res.layouts, strict=True):
                self._frame_in(c, body, layout != 0, loopback, t_ns)
            return
        wrapped = _datagram_layout(chunk)
        if wrapped is None:
            self.totals["frames_in"] += 1
            self._reject(c, chunk, MALFORMED, t_ns)
            return
        self._frame_in(c, chunk, wrapped, loopback, t_ns)

    def _frame_in(self, c, body: bytes, wrapped: bool, loopback: bool, t_ns: int) -> None:
        self.totals["frames_in"] += 1
        if c is not None:
            c.frames_in += 1
            c.tc_this_cycle += 1
            if c.tc_this_cycle > self.tc_per_cycle:
                self._reject(c, body[sdls.HEADER_SIZE:] if wrapped else body, RATE_LIMITED, t_ns)
                return
        verdict, packet = self.auth.check(body, wrapped, loopback)
        if verdict != OK:
            self._reject(c, packet, verdict, t_ns)
            return
        self.totals["tc_accepted"] += 1
        if c is not None:
            c.accepted += 1
        self.commanding.uplink(packet)

    def _reject(self, c, packet: bytes, reason: str, t_ns: int) -> None:
        self.rejected[reason] += 1
        if c is not None:
            c.rejected[reason] = c.rejected.get(reason, 0) + 1
        code = REASON_CODES[reason]
        if self._acks_left > 0:
            self._acks_left -= 1
            apid, fc, seq = peek_ids(packet)
            self.downlink.send_values("CMD_ACK", t_ns, (apid, fc, seq, ACK_REJECTED, code))
        else:
            self.totals["acks_suppressed"] += 1
        seen = self._cycle_rejects.get(reason)
        if seen is None:
            self._cycle_rejects[reason] = [1, c.peer if c is not None else "?"]
        else:
            seen[0] += 1

    # ------------------------------------------------------------------ reporting
    def counters(self) -> dict:
        """Link totals over live and closed clients."""
        t = self.totals
        live = list(self.clients.values())
        return {
            "clients": len(live),
            "clients_total": t["clients_total"],
            "clients_refused": t["clients_refused"],
            "frames_in": t["frames_in"],
            "frames_out": t["closed_frames_out"] + sum(c.queue.sent for c in live),
            "bytes_in": t["bytes_in"],
            "bytes_out": t["closed_bytes_out"] + sum(c.queue.bytes_sent for c in live),
            "crc_errors": t["closed_crc_errors"] + sum(c.deframer.stats.crc_errors for c in live if c.deframer),
            "bytes_skipped": t["closed_bytes_skipped"] + sum(c.deframer.stats.bytes_skipped
                                                              for c in live if c.deframer),
            "drops": t["closed_drops"] + sum(c.queue.dropped for c in live),
            "tc_accepted": t["tc_accepted"],
        }

    def _stats_values(self) -> tuple:
        d = self.counters()
        for reason in LINK_REASONS:
            d[f"rej_{reason.lower()}"] = self.rejected[reason]
        return tuple(min(int(d[f]), 0xFF) if f == "clients" else int(d[f]) & U32 for f in _STATS_FIELDS)

    def summary(self) -> dict:
        """The ``ground_link`` section of summary.json."""
        return {
            "url": getattr(self.transport, "url", None),
            "authenticated": bool(self.auth.keys),
            **self.counters(),
            "rejected_by_reason": dict(self.rejected),
            "acks_suppressed": self.totals["acks_suppressed"],
            "arsn_store_errors": self.totals["arsn_store_errors"],
            "last_arsn": {str(k): v for k, v in sorted(self.auth.last_arsn.items())},
            "client_list": [c.summary() for c in (*self.closed, *self.clients.values())],
        }


def _datagram_layout(dgram: bytes) -> bool | None:
    """True: an authenticated telecommand datagram; False: a plain one; None: neither (by length fields)."""
    n = len(dgram)
    h = sdls.HEADER_SIZE
    if n >= sdls.OVERHEAD + TC_HEADER_SIZE and peek_length(dgram[h:h + PRIMARY_HEADER_SIZE]) == n - sdls.OVERHEAD:
        return True
    if n >= PRIMARY_HEADER_SIZE and peek_length(dgram) == n:
        return False
    return None

