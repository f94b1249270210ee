"""Telemetry downlink: records and values become CCSDS packets with per-APID sequence counts."""

from __future__ import annotations

from collections import Counter

from telemetry.codec import tm_codec
from telemetry.dictionary import TM_BY_NAME

_SEQ_MOD = 1 << 14  # CCSDS sequence count is 14 bits


class Downlink:
    """Encode telemetry with the generated fast codecs and hand the packets to ``sink(bytes)``."""

    def __init__(self, sink):
        self.sink = sink
        self._codecs = {name: tm_codec(name) for name in TM_BY_NAME}
        self._seq = dict.fromkeys(TM_BY_NAME, 0)
        self.counts: Counter = Counter()

    def _next_seq(self, name: str) -> int:
        seq = self._seq[name]
        self._seq[name] = (seq + 1) % _SEQ_MOD
        self.counts[name] += 1
        return seq

    def send_record(self, name: str, t_ns: int, record) -> None:
        """Send bus/device record ``record`` as packet ``name`` time-stamped ``t_ns``."""
        self.sink(self._codecs[name].pack_record(self._next_seq(name), t_ns, record))

    def send_values(self, name: str, t_ns: int, values) -> None:
        """Send packet ``name`` from a flat sequence of field values in declaration order."""
        self.sink(self._codecs[name].pack(self._next_seq(name), t_ns, values))
