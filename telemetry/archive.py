"""Packet archive files (``telemetry.ccsds``): append-only framed packets, robust reading, bulk decoding.

The archive is the serial framing written to a file: sync marker + packet + CRC-16 per packet.
Each packet reaches the operating system with one ``os.write`` (no user-space buffer), so a killed
process keeps every packet up to its last complete write; only a power loss can lose what the OS
had not yet flushed (pass ``fsync=True`` for that, at a much higher cost). ``batched=True`` hands
the packets over at each ``flush()`` instead (the SIL runner: once per minor frame that ran tasks),
so a killed run keeps every packet of every flushed frame.
"""

from __future__ import annotations

import csv
import logging
import mmap
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from telemetry.codec import PacketError, packet_dtype, peek_apid
from telemetry.dictionary import TM_BY_APID, TM_BY_NAME
from telemetry.framing import ASM_SIZE, CRC_SIZE, Deframer, dictionary_sizes, frame
from telemetry.headers import CUC_FINE_PER_S, NS_PER_S, SEQ_COUNT_MOD

log = logging.getLogger(__name__)


class ArchiveWriter:
    """Append-only archive of framed packets.

    Parameters
    ----------
    path : str or Path
        Archive file; created if missing, appended to if present.
    fsync : bool
        Also ``fsync`` after each packet (survives power loss; costs a disk flush per packet).
    batched : bool
        Keep framed packets in memory until :meth:`flush` (or :meth:`close`) hands them to the OS in
        one write. The SIL runner flushes at the end of every minor frame that ran tasks, so a killed
        run keeps every packet of every finished frame, at one system call per frame instead of one
        per packet.

    Attributes
    ----------
    counts : collections.Counter
        Packets written per APID.
    bytes_written : int
        [B] framed bytes written.
    """

    def __init__(self, path: str | Path, fsync: bool = False, batched: bool = False):
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._fsync = fsync
        self._batch: bytearray | None = bytearray() if batched else None
        self.counts: Counter = Counter()
        self.bytes_written = 0

    def write(self, packet: bytes) -> None:
        """Frame ``packet`` and hand it to the OS in one write (batched: at the next :meth:`flush`)."""
        if self._fd < 0:
            raise ValueError(f"archive {self.path} is closed")
        data = frame(packet)
        if self._batch is not None:
            self._batch += data
        else:
            self._write(data)
        self.counts[peek_apid(packet)] += 1
        self.bytes_written += len(data)

    def flush(self) -> None:
        """Hand the batched packets to the OS (nothing to do when not batched or empty)."""
        if self._batch:
            data = bytes(self._batch)
            self._batch.clear()
            self._write(data)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:  # os.write may write less than asked (signals, full pipes)
            view = view[os.write(self._fd, view):]
        if self._fsync:
            os.fsync(self._fd)

    @property
    def packets_written(self) -> int:
        return sum(self.counts.values())

    def close(self) -> None:
        """Flush and close the file (idempotent)."""
        if self._fd >= 0:
            self.flush()
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class ArchiveReport:
    """Everything found in an archive.

    Attributes
    ----------
    packets : list[tuple[int, bytes]]
        (file offset of the frame, packet bytes) of every intact packet (CRC verified), in order.
    damage : list[tuple[int, int, str]]
        (start, end, reason) file byte ranges that held no intact frame; reason is one of
        ``no_sync``, ``bad_crc``, ``bad_header``, ``truncated``.
    size : int
        [B] file size.
    """

    packets: list[tuple[int, bytes]] = field(default_factory=list)
    damage: list[tuple[int, int, str]] = field(default_factory=list)
    size: int = 0

    def counts(self) -> Counter:
        """Intact packets per APID."""
        return Counter(peek_apid(p) for _, p in self.packets)


def _read_bytes(path_or_bytes) -> bytes:
    if isinstance(path_or_bytes, bytes | bytearray | memoryview):
        return bytes(path_or_bytes)
    return Path(path_or_bytes).read_bytes()


def _map_bytes(path_or_bytes) -> np.ndarray:
    """uint8 array over an archive's bytes; a file is memory-mapped read-only (no copy)."""
    if isinstance(path_or_bytes, bytes | bytearray | memoryview):
        return np.frombuffer(path_or_bytes, np.uint8)
    path = Path(path_or_bytes)
    if path.stat().st_size == 0:
        return np.zeros(0, np.uint8)
    with open(path, "rb") as fh:
        return np.frombuffer(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ), np.uint8)


def read_archive(path_or_bytes) -> ArchiveReport:
    """Every intact packet of an archive and every damaged byte range, by file offset.

    A truncated or partly corrupted archive gives all its intact packets; the damage is reported,
    never dropped silently. Raises only OSError for a file that cannot be read.
    """
    data = _read_bytes(path_or_bytes)
    deframer = Deframer()
    report = ArchiveReport(size=len(data))
    for res in (deframer.feed(data), deframer.flush()):
        report.packets.extend(zip(res.offsets, res.packets, strict=True))
        report.damage.extend((s, e, r) for (s, e), r in zip(res.skipped, res.reasons, strict=True))
    return report


def resolve_apid(apid_or_name) -> str:
    """Telemetry packet name of an APID (int) or a name; PacketError UNKNOWN_APID otherwise."""
    if isinstance(apid_or_name, str) and apid_or_name in TM_BY_NAME:
        return apid_or_name
    if isinstance(apid_or_name, int | np.integer) and int(apid_or_name) in TM_BY_APID:
        return TM_BY_APID[int(apid_or_name)].name
    raise PacketError("?", "apid", "UNKNOWN_APID", f"{apid_or_name!r} is not a telemetry packet of the dictionary")


_KERNELS = None


def _kernels():
    """Import the numba kernels on first use (ground tools that never bulk-decode skip the JIT)."""
    global _KERNELS
    if _KERNELS is None:
        from telemetry import kernels

        sizes = dictionary_sizes()
        max_len = max(max(s) for s in sizes.values())
        allowed = np.zeros((2048, max_len + 1), np.bool_)
        allowed[:, 7:] = True  # an APID outside the dictionary may have any CCSDS length up to the largest
        for apid, lengths in sizes.items():
            allowed[apid, :] = False
            allowed[apid, list(lengths)] = True
        _KERNELS = (kernels, allowed, kernels.crc16_tables())
    return _KERNELS


@dataclass
class BulkScan:
    """Result of scanning an archive for one APID."""

    name: str
    records: np.ndarray                   # CRC-verified packets, ``packet_dtype(name)`` in native order
    damage: list[tuple[int, int, str]]    # skipped byte ranges and target frames with a bad CRC
    frames: int                           # frames of any APID accepted


@cache
def _native_layout(name: str) -> tuple[np.dtype, np.ndarray]:
    from telemetry import kernels

    big = packet_dtype(name)
    return big.newbyteorder("="), kernels.byteswap_permutation(big, sys.byteorder == "little")


def scan_apid(path_or_bytes, apid_or_name) -> BulkScan:
    """CRC-verified packets of one telemetry APID of an archive as native records, with the damage."""
    name = resolve_apid(apid_or_name)
    kernels, allowed, tables = _kernels()
    native, perm = _native_layout(name)
    data = _map_bytes(path_or_bytes)
    size = native.itemsize
    capacity = data.shape[0] // (ASM_SIZE + 7 + CRC_SIZE) + 2
    starts = np.empty(capacity, np.int64)
    dmg = np.empty((capacity, 3), np.int64)
    ns, nd, nf = kernels.scan_frames(data, allowed, TM_BY_NAME[name].apid, tables, starts, dmg)
    starts = starts[:ns]
    crc_ok = np.empty(ns, np.bool_)
    kernels.check_crcs(data, starts, size, tables, crc_ok)
    damage = [(int(s), int(e), kernels.DAMAGE_REASONS[r]) for s, e, r in dmg[:nd]]
    if not crc_ok.all():
        bad = starts[~crc_ok]
        damage += [(int(s), int(s) + size + ASM_SIZE + CRC_SIZE, "bad_crc") for s in bad]
        damage.sort()
        starts = starts[crc_ok]
    raw = np.empty(starts.shape[0] * size, np.uint8)
    kernels.gather_swapped(data, starts, perm, raw)
    return BulkScan(name, raw.view(native), damage, nf)


def records_to_columns(name: str, records: np.ndarray) -> dict[str, np.ndarray]:
    """Columns of native packet records: ``t_ns`` [ns], ``seq``, then each field (arrays 2-D).

    Field columns are views into ``records`` (no copy).
    """
    seconds = records["cuc_seconds"].astype(np.int64)
    sub = records["cuc_subseconds"].astype(np.int64)
    cols = {
        # the earliest nanosecond of each CUC tick, as headers.cuc_to_t_ns
        "t_ns": seconds * NS_PER_S - (-sub * NS_PER_S // CUC_FINE_PER_S),
        "seq": records["ccsds_seq"] & (SEQ_COUNT_MOD - 1),
    }
    for f in TM_BY_NAME[name].fields:
        cols[f.name] = records[f.name]
    return cols


def decode_apid(path_or_bytes, apid_or_name) -> dict[str, np.ndarray]:
    """Decode every intact packet of one telemetry APID of an archive into numpy columns.

    Parameters
    ----------
    path_or_bytes : str, Path or bytes
        Archive file or its content (framed packets).
    apid_or_name : int or str
        APID or packet name of the dictionary.

    Returns
    -------
    dict[str, numpy.ndarray]
        ``t_ns`` [ns] int64, ``seq`` (CCSDS sequence count), then each field in declaration order,
        native-endian; array fields are 2-D ``(n, count)``, char fields ``S<count>``.
        Frames failing their CRC are left out and logged as a warning with their offsets.
    """
    scan = scan_apid(path_or_bytes, apid_or_name)
    if scan.damage:
        log.warning("%s: %d damaged range(s) skipped, first at byte %d (%s)",
                    scan.name, len(scan.damage), scan.damage[0][0], scan.damage[0][2])
    return records_to_columns(scan.name, scan.records)


def to_csv(columns: dict[str, np.ndarray], path: str | Path) -> int:
    """Write columns to CSV: one row per packet, array fields as ``name[i]``; returns rows written.

    Floats are written with ``repr`` so they read back to the same value.
    """
    headers, flat = [], []
    for name, col in columns.items():
        if col.ndim == 2:
            for k in range(col.shape[1]):
                headers.append(f"{name}[{k}]")
                flat.append(col[:, k].tolist())
        elif col.dtype.kind == "S":
            headers.append(name)
            flat.append([v.decode("ascii", errors="replace") for v in col.tolist()])
        else:
            headers.append(name)
            flat.append(col.tolist())
    n = len(flat[0]) if flat else 0
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(headers)
        writer.writerows(zip(*flat, strict=True))
    return n
