"""The console's connection to the flight's ground link: one client like any other, reconnecting by itself.

A thread owns the :class:`ground.link.LinkClient`: it connects, reads telemetry as it comes and hands each
read's packets to the console with the wall time of their arrival, and reconnects when the flight closes
the link or cannot be reached (every ``retry_s``). A link that stays silent for ``stale_s`` while connected
is reported lost as well (a stopped flight on a serial line or UDP says nothing). Telecommands are sent
from the console's event loop through :meth:`LinkWorker.send`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from ground.link import LinkClient, LinkError

RECEIVE_WAIT_S = 0.05   # [s] longest wait of one read: how soon a stop or a silence is seen


@dataclass
class LinkStatus:
    state: str = "connecting"           # connecting | connected | lost
    reason: str = "not connected yet"
    since_ms: float = field(default_factory=lambda: time.time() * 1e3)
    connects: int = 0
    losses: int = 0
    packets: int = 0
    bytes_skipped: int = 0
    last_rx_ms: float | None = None

    def as_dict(self) -> dict:
        return {"k": "link", "state": self.state, "reason": self.reason, "since_ms": self.since_ms,
                "connects": self.connects, "losses": self.losses, "packets": self.packets,
                "bytes_skipped": self.bytes_skipped, "last_rx_ms": self.last_rx_ms, "now_ms": time.time() * 1e3}


class LinkWorker(threading.Thread):
    """Reads the link in a thread; ``on_packets(packets, rx_ms)`` and ``on_status(LinkStatus)`` are called from it.

    Parameters
    ----------
    url, tm_listen : the link (``ground.link.LinkClient``).
    stale_s : float
        [s] silence after which a connected link is reported lost.
    retry_s : float
        [s] pause between connection attempts.
    """

    def __init__(self, url: str, tm_listen: str | None, on_packets, on_status, stale_s: float = 3.0,
                 retry_s: float = 0.5, connect_timeout_s: float = 2.0):
        super().__init__(name="qz-console-link", daemon=True)
        self.url, self.tm_listen = url, tm_listen
        self.on_packets, self.on_status = on_packets, on_status
        self.stale_s, self.retry_s, self.connect_timeout_s = stale_s, retry_s, connect_timeout_s
        self.status = LinkStatus()
        self._client: LinkClient | None = None
        self._send_lock = threading.Lock()
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    @property
    def halted(self) -> bool:
        return self._halt.is_set()

    def send(self, body: bytes) -> None:
        """Send one telecommand frame body; LinkError when the link is down."""
        with self._send_lock:
            client = self._client
            if client is None or self.status.state != "connected":
                raise LinkError(f"link {self.url} is {self.status.state}: {self.status.reason}")
            client.send(body)

    def _set(self, state: str, reason: str) -> None:
        s = self.status
        if s.state == state and s.reason == reason:
            return
        if state == "lost" and s.state == "connected":
            s.losses += 1
        if state == "connected" and s.state != "connected":
            s.connects += 1
        s.state, s.reason, s.since_ms = state, reason, time.time() * 1e3
        self.on_status(s)

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                client = LinkClient(self.url, self.tm_listen, timeout_s=self.connect_timeout_s)
            except LinkError as err:
                self._set("lost" if self.status.connects else "connecting", str(err).split(": ", 1)[-1])
                self._halt.wait(self.retry_s)
                continue
            with self._send_lock:
                self._client = client
            self._set("connected", f"connected to {self.url}")
            try:
                self._read(client)
            finally:
                with self._send_lock:
                    self._client = None
                client.close()
            if not self._halt.is_set():
                self._halt.wait(self.retry_s)

    def _read(self, client: LinkClient) -> None:
        last = time.monotonic()
        skipped_before = self.status.bytes_skipped
        while not self._halt.is_set():
            try:
                packets = client.receive(RECEIVE_WAIT_S)
            except LinkError as err:
                self._set("lost", str(err))
                return
            now = time.monotonic()
            if packets is None:
                self._set("lost", "the flight closed the link")
                return
            self.status.bytes_skipped = skipped_before + client.deframer.stats.bytes_skipped
            if packets:
                last = now
                self.status.packets += len(packets)
                self.status.last_rx_ms = time.time() * 1e3
                if self.status.state != "connected":
                    self._set("connected", f"telemetry again from {self.url}")
                self.on_packets(packets, self.status.last_rx_ms)
            elif now - last > self.stale_s and self.status.state == "connected":
                self._set("lost", f"no telemetry for {self.stale_s:g} s")
