"""Uplink authentication of the ground link: SPI, anti-replay sequence number, truncated HMAC-SHA-256.

The wire format is ``telemetry.sdls``; this module keeps the flight's state (keys, last accepted ARSN
per SPI) and decides, before the command dispatcher sees anything, whether a telecommand is accepted.
"""

from __future__ import annotations

from telemetry import sdls

# verdicts, named as telemetry.dictionary.REJECT_REASONS
OK = "NONE"
UNAUTHENTICATED = "UNAUTHENTICATED"
UNKNOWN_SPI = "UNKNOWN_SPI"
BAD_MAC = "BAD_MAC"
REPLAY = "REPLAY"
REASONS = (UNAUTHENTICATED, UNKNOWN_SPI, BAD_MAC, REPLAY)


class Authenticator:
    """Decide on each uplinked telecommand.

    Parameters
    ----------
    keys : dict[int, bytes]
        SPI -> key; empty: no key file, plain telecommands from loopback only.
    last_arsn : dict[int, int]
        SPI -> last accepted ARSN (from the ARSN state file); an SPI not listed accepts ARSN >= 1.
    persist : callable, optional
        ``persist(dict)`` stores the last accepted ARSN per SPI (atomically); called by :meth:`flush`
        when an ARSN advanced, so an accepted frame replayed after a restart is still refused.
    """

    def __init__(self, keys: dict[int, bytes] | None = None, last_arsn: dict[int, int] | None = None,
                 persist=None):
        self.keys = dict(keys or {})
        self.last_arsn = {int(k): int(v) for k, v in (last_arsn or {}).items()}
        self.persist = persist
        self._dirty = False

    def check(self, body: bytes, wrapped: bool, loopback: bool) -> tuple[str, bytes]:
        """``(verdict, packet)`` of one frame body; ``verdict`` is :data:`OK` or a rejection reason.

        ``wrapped``: the body carries the security header and trailer (else it is a plain packet);
        ``loopback``: it came from a loopback address.
        """
        if not wrapped:
            if self.keys or not loopback:
                return UNAUTHENTICATED, body
            return OK, body
        verdict, spi, arsn, packet = sdls.verify(body, self.keys)
        if verdict != "OK":
            return verdict, packet
        if arsn <= self.last_arsn.get(spi, 0):
            return REPLAY, packet
        self.last_arsn[spi] = arsn
        self._dirty = True
        return OK, packet

    def flush(self) -> None:
        """Store the ARSN state when it advanced since the last call."""
        if self._dirty and self.persist is not None:
            self.persist(dict(self.last_arsn))
        self._dirty = False
