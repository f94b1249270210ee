"""Framing of space packets on byte streams (serial links, archive files) and the stream deframer.

Frame = attached sync marker 0x1ACFFC1D + space packet + CRC-16/CCITT-FALSE of the packet, big-endian
(the layout OpenC3 COSMOS's LENGTH + CRC protocols read).

``Deframer.feed`` takes any chunking of a stream and returns what it found, which absolute byte ranges
it skipped and how many bytes it is done with; it resynchronises after garbage, a bad CRC, a false
sync marker inside data, an impossible length or a truncated frame, and never loses a valid frame
that follows: after any failure it resumes the search one byte after the rejected marker.

``Deframer(layouts=...)`` also reads frames whose body wraps the packet between a fixed-size header and
trailer (the ground link's authenticated telecommands: security header + packet + MAC, see
``telemetry.sdls``); each layout is tried at every marker, the first whose CRC verifies wins.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass, field
from functools import cache

from telemetry.dictionary import COMMANDS, TELEMETRY
from telemetry.headers import (  # noqa: F401  (ASM, ASM_SIZE, CRC_SIZE, CRC_INIT are re-exported)
    APID_MASK,
    ASM,
    ASM_SIZE,
    CRC_INIT,
    CRC_SIZE,
    LENGTH_OFFSET,
    PRIMARY_HEADER_SIZE,
    header_plausible,
    tc_size,
    tm_size,
)

FRAME_OVERHEAD = ASM_SIZE + CRC_SIZE
MIN_PACKET = LENGTH_OFFSET          # [B] a data field of 1 byte is the CCSDS minimum
_HEADER = struct.Struct(">HHH")
_CRC = struct.Struct(">H")

# why a range of bytes was skipped
SKIP_NO_SYNC = "no_sync"            # bytes before any sync marker (garbage, line noise)
SKIP_BAD_CRC = "bad_crc"            # a marker whose frame failed its CRC (or a false marker in data)
SKIP_BAD_HEADER = "bad_header"      # a marker followed by an impossible header or length
SKIP_TRUNCATED = "truncated"        # an incomplete frame at the end of the stream
SKIP_FALSE_SYNC = "false_sync"      # an incomplete frame with a complete valid frame inside its span
PLAIN = (0, 0)                      # frame body layout: the packet alone ([B] before it, [B] after it)


def crc16_ccitt_false(data) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (poly 0x1021, init 0xFFFF; check value 0x29B1 for b"123456789").

    ``binascii.crc_hqx`` is exactly this CRC (non-reflected 0x1021) given the 0xFFFF init.
    """
    return binascii.crc_hqx(data, CRC_INIT)


def frame(packet: bytes) -> bytes:
    """Frame one space packet: sync marker + packet + CRC-16 (big-endian)."""
    return ASM + packet + _CRC.pack(binascii.crc_hqx(packet, CRC_INIT))


@cache
def dictionary_sizes() -> dict[int, frozenset[int]]:
    """APID -> the packet lengths [B] the dictionary allows (one per telemetry packet, one per command)."""
    sizes: dict[int, set[int]] = {}
    for p in TELEMETRY:
        sizes.setdefault(p.apid, set()).add(tm_size(p.name))
    for c in COMMANDS:
        sizes.setdefault(c.apid, set()).add(tc_size(c.name))
    return {apid: frozenset(s) for apid, s in sizes.items()}


@dataclass
class DeframerStats:
    """Counters of one deframer since it was created."""

    frames_ok: int = 0       # frames delivered (CRC verified)
    crc_errors: int = 0      # markers whose frame failed the CRC
    bytes_skipped: int = 0   # bytes given up on (ranges reported in FeedResult.skipped)
    bad_lengths: int = 0     # markers followed by an impossible header or length
    unknown_apids: int = 0   # frames delivered whose APID is not in the dictionary
    resyncs: int = 0         # times a frame was found after skipped bytes
    false_syncs: int = 0     # incomplete frames abandoned because a valid frame starts inside them


@dataclass
class FeedResult:
    """What one ``Deframer.feed`` call found.

    Attributes
    ----------
    packets : list[bytes]
        Space packets (sync marker and CRC removed) in stream order; with several layouts, the frame
        bodies (what the CRC covers: header + packet + trailer).
    skipped : list[tuple[int, int]]
        Absolute stream byte ranges ``[start, end)`` given up on in this call, in order.
    consumed : int
        [B] how far the decided part of the stream advanced in this call; what is not consumed is
        held (a possible frame still arriving).
    offsets : list[int]
        Absolute stream offset of each packet's frame (its sync marker).
    reasons : list[str]
        Why each skipped range was skipped (``no_sync``, ``bad_crc``, ``bad_header``, ``false_sync``,
        ``truncated``).
    """

    packets: list[bytes] = field(default_factory=list)
    skipped: list[tuple[int, int]] = field(default_factory=list)
    consumed: int = 0
    offsets: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    layouts: list[int] = field(default_factory=list)  # index into Deframer.layouts of each packet's frame


class Deframer:
    """Incremental deframer of a byte stream of framed space packets.

    Parameters
    ----------
    sizes : dict[int, frozenset[int]], optional
        APID -> allowed packet lengths [B]; a frame of a listed APID with another length is
        impossible. Defaults to the dictionary's packets and commands.
    max_packet : int, optional
        [B] largest packet accepted for an APID not in ``sizes``; defaults to the dictionary's
        largest packet, which bounds how long a false marker can hold frames back.
    layouts : sequence of (int, int), optional
        Frame body layouts to try, in order: [B] before the packet and [B] after it, inside the CRC.
        Default: the packet alone, ``(PLAIN,)``.
    """

    def __init__(self, sizes: dict[int, frozenset[int]] | None = None, max_packet: int | None = None,
                 layouts=(PLAIN,)):
        self.layouts = tuple((int(a), int(b)) for a, b in layouts)
        if not self.layouts or any(a < 0 or b < 0 for a, b in self.layouts):
            raise ValueError(f"Deframer: layouts must be (prefix, suffix) byte counts >= 0, got {layouts!r}")
        self.sizes = dictionary_sizes() if sizes is None else dict(sizes)
        self.max_packet = max_packet if max_packet is not None else max(max(s) for s in self.sizes.values())
        self.stats = DeframerStats()
        self._buf = bytearray()
        self._base = 0                        # absolute stream offset of _buf[0]
        self._skip_start: int | None = None   # absolute start of the skip range being built
        self._skip_reason = ""
        self._lost_sync = False               # bytes were skipped since the last good frame

    @property
    def position(self) -> int:
        """[B] absolute stream offset up to which everything is decided."""
        return self._base

    @property
    def pending(self) -> int:
        """[B] bytes held, waiting for the rest of a possible frame."""
        return len(self._buf)

    def _open_skip(self, at: int, reason: str) -> None:
        self._lost_sync = True
        if self._skip_start is None:
            self._skip_start = at
            self._skip_reason = reason

    def _close_skip(self, at: int, out: FeedResult) -> None:
        if self._skip_start is not None and at > self._skip_start:
            out.skipped.append((self._skip_start, at))
            out.reasons.append(self._skip_reason)
            self.stats.bytes_skipped += at - self._skip_start
        self._skip_start = None

    def _plausible(self, w0: int, w1: int, total: int) -> bool:
        if not header_plausible(w0, w1):
            return False
        allowed = self.sizes.get(w0 & APID_MASK)
        if allowed is not None:
            return total in allowed
        return MIN_PACKET <= total <= self.max_packet

    def _complete_frame_after(self, i: int, n: int) -> int:
        """Offset of the first complete, CRC-valid frame after offset ``i`` of the buffer, -1 if none."""
        buf = self._buf
        j = buf.find(ASM, i + 1)
        while 0 <= j <= n - ASM_SIZE - PRIMARY_HEADER_SIZE:
            for prefix, suffix in self.layouts:
                h = j + ASM_SIZE + prefix
                if n - h < PRIMARY_HEADER_SIZE:
                    continue
                w0, w1, w2 = _HEADER.unpack_from(buf, h)
                total = w2 + LENGTH_OFFSET
                end = h + total + suffix + CRC_SIZE
                if self._plausible(w0, w1, total) and end <= n:
                    crc = binascii.crc_hqx(bytes(buf[j + ASM_SIZE:end - CRC_SIZE]), CRC_INIT)
                    if crc == (buf[end - 2] << 8 | buf[end - 1]):
                        return j
            j = buf.find(ASM, j + 1)
        return -1

    def _match(self, i: int, n: int):
        """Try each layout at the marker at ``i``: ``(layout, end, apid)`` of a CRC-valid frame, else the
        verdict: ``"header"`` (more bytes needed to read a header), ``"body"`` (a plausible frame is not
        complete yet), ``"crc"`` (plausible frames failed their CRC) or ``"bad"`` (no plausible header)."""
        buf = self._buf
        verdict = "bad"
        for k, (prefix, suffix) in enumerate(self.layouts):
            h = i + ASM_SIZE + prefix
            if n - h < PRIMARY_HEADER_SIZE:
                if verdict == "bad":
                    verdict = "header"
                continue
            w0, w1, w2 = _HEADER.unpack_from(buf, h)
            total = w2 + LENGTH_OFFSET
            if not self._plausible(w0, w1, total):
                continue
            end = h + total + suffix + CRC_SIZE
            if end > n:
                verdict = "body"
                continue
            crc = binascii.crc_hqx(bytes(buf[i + ASM_SIZE:end - CRC_SIZE]), CRC_INIT)
            if crc == (buf[end - 2] << 8 | buf[end - 1]):
                return k, end, w0 & APID_MASK
            if verdict != "body":
                verdict = "crc"
        return verdict

    def feed(self, chunk) -> FeedResult:
        """Add ``chunk`` (any length, possibly empty) to the stream; never raises on content."""
        out = FeedResult()
        start_abs = self._base
        buf = self._buf
        buf += chunk
        n = len(buf)
        pos = 0
        stats = self.stats
        sizes = self.sizes
        valid_at = -1  # a complete valid frame found by the false-sync search: markers before it are false
        while True:
            i = buf.find(ASM, pos)
            if i < 0:
                # keep the last bytes: they may be the start of a marker split across chunks
                keep = max(pos, n - (ASM_SIZE - 1))
                if keep > pos:
                    self._open_skip(self._base + pos, SKIP_NO_SYNC)
                pos = keep
                break
            if i > pos:
                self._open_skip(self._base + pos, SKIP_NO_SYNC)
                pos = i
            match = self._match(i, n)
            if match == "header":
                break
            if match == "bad":
                stats.bad_lengths += 1
                self._open_skip(self._base + i, SKIP_BAD_HEADER)
                pos = i + 1
                continue
            if match == "body":
                # one search serves every incomplete marker before the frame it finds (linear on hostile input)
                if valid_at <= i:
                    valid_at = self._complete_frame_after(i, n)
                if valid_at > i:
                    # a valid frame inside the span this marker claims: the marker was false, and
                    # waiting for its end would hold the valid frame back (a stall on a quiet link)
                    stats.false_syncs += 1
                    self._open_skip(self._base + i, SKIP_FALSE_SYNC)
                    pos = i + 1
                    continue
                break
            if match == "crc":
                stats.crc_errors += 1
                self._open_skip(self._base + i, SKIP_BAD_CRC)
                pos = i + 1
                continue
            layout, end, apid = match
            if self._lost_sync:
                stats.resyncs += 1
                self._lost_sync = False
                self._close_skip(self._base + i, out)
            if apid not in sizes:
                stats.unknown_apids += 1
            stats.frames_ok += 1
            out.packets.append(bytes(buf[i + ASM_SIZE:end - CRC_SIZE]))
            out.offsets.append(self._base + i)
            out.layouts.append(layout)
            pos = end
        # report what is already given up on now, so a reader learns of garbage without waiting
        self._close_skip(self._base + pos, out)
        del buf[:pos]
        self._base += pos
        out.consumed = self._base - start_abs
        return out

    def flush(self) -> FeedResult:
        """End of stream: whatever is held is a truncated frame (or marker) and is reported skipped."""
        out = FeedResult()
        if self._buf:
            end = self._base + len(self._buf)
            self._open_skip(self._base, SKIP_TRUNCATED)
            self._close_skip(end, out)
            out.consumed = len(self._buf)
            self._base = end
            self._buf.clear()
        return out
