"""Numba kernels for bulk archive decoding: frame scanning and table-driven CRC-16 over many frames.

Pure functions over uint8 arrays, results written into caller-given arrays (``cache=True`` so a
tool does not recompile them on every start).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from telemetry.headers import (
    APID_MASK,
    ASM,
    ASM_SIZE,
    CRC_INIT,
    CRC_POLY,
    CRC_SIZE,
    LENGTH_OFFSET,
    PRIMARY_HEADER_SIZE,
    SEQ_FLAGS_SHIFT,
    SEQ_FLAGS_UNSEGMENTED,
    VERSION_SHIFT,
)

# the frame and header layout, from telemetry/headers.py (numba reads these module globals as constants)
ASM0, ASM1, ASM2, ASM3 = ASM     # attached sync marker, byte by byte
HEADER_SIZE = PRIMARY_HEADER_SIZE

# damage reasons written by scan_frames (indices into DAMAGE_REASONS)
DAMAGE_REASONS = ("no_sync", "bad_header", "bad_crc", "truncated")
NO_SYNC, BAD_HEADER, BAD_CRC, TRUNCATED = range(len(DAMAGE_REASONS))


def crc16_tables() -> np.ndarray:
    """Slice-by-8 tables of the non-reflected CRC-16 with polynomial 0x1021, shape (8, 256).

    ``tables[0]`` is Sarwate's byte table; ``tables[t][b]`` is the CRC contribution of byte ``b``
    followed by ``t`` zero bytes, so eight bytes fold in with one table look-up each.
    """
    tables = np.zeros((8, 256), np.uint16)
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ CRC_POLY) if crc & 0x8000 else (crc << 1)
        tables[0, byte] = crc & 0xFFFF
    for t in range(1, 8):
        for byte in range(256):
            prev = int(tables[t - 1, byte])
            tables[t, byte] = ((prev << 8) & 0xFFFF) ^ tables[0, prev >> 8]
    return tables


@njit(cache=True)
def crc16(data, start, stop, tables):
    """CRC-16/CCITT-FALSE of ``data[start:stop]`` (slice-by-8, then byte by byte)."""
    crc = np.int64(CRC_INIT)
    k = start
    while k + 8 <= stop:
        crc = _step8(crc, data, k, tables)
        k += 8
    while k < stop:
        crc = _step1(crc, data, k, tables)
        k += 1
    return crc


@njit(cache=True)
def _is_asm(data, i):
    return data[i] == ASM0 and data[i + 1] == ASM1 and data[i + 2] == ASM2 and data[i + 3] == ASM3


@njit(cache=True)
def scan_frames(data, allowed, target_apid, tables, starts, dmg):
    """Walk a framed stream; collect the frame offsets of one APID and the damaged byte ranges.

    Parameters
    ----------
    data : uint8[:]
        The framed stream (an archive file).
    allowed : bool[2048, max_packet + 1]
        ``allowed[apid, length]``: a packet of this APID may have this total length [B].
    target_apid : int
        APID whose frames are collected.
    tables : uint16[8, 256]
        ``crc16_tables()``.
    starts : int64[:]
        Out: offsets of the target frames' sync markers (capacity >= len(data) // 13 + 1).
    dmg : int64[:, 3]
        Out: ``(start, end, reason)`` rows of skipped ranges (same capacity).

    Returns
    -------
    (n_starts, n_damage, n_frames) : (int, int, int)
        Target frames found, damage rows written, frames of any APID accepted.

    Notes
    -----
    A frame whose declared end is followed by another sync marker (or the end of the data) is
    taken as chained and jumped over without its CRC: target frames get their CRC verified in bulk
    by ``gather_rows``, other APIDs are not decoded. A frame not followed by a marker has its CRC
    checked here; when it fails the search resumes one byte after its marker, so a valid frame
    hidden behind a corrupted header or a truncation is never lost.
    """
    n = data.shape[0]
    max_len = allowed.shape[1] - 1
    i = 0
    ns = 0
    nd = 0
    nf = 0
    skip_from = -1
    reason = NO_SYNC
    while i + ASM_SIZE + HEADER_SIZE <= n:
        if not _is_asm(data, i):
            if skip_from < 0:
                skip_from = i
                reason = NO_SYNC
            i += 1
            continue
        w0 = (np.int64(data[i + 4]) << 8) | data[i + 5]
        w1 = (np.int64(data[i + 6]) << 8) | data[i + 7]
        total = ((np.int64(data[i + 8]) << 8) | data[i + 9]) + LENGTH_OFFSET
        apid = w0 & APID_MASK
        if (w0 >> VERSION_SHIFT) != 0 or (w1 >> SEQ_FLAGS_SHIFT) != SEQ_FLAGS_UNSEGMENTED or total > max_len \
                or not allowed[apid, total]:
            if skip_from < 0:
                skip_from = i
                reason = BAD_HEADER
            i += 1
            continue
        end = i + ASM_SIZE + total + CRC_SIZE
        if end > n:
            break
        chained = end == n or (end + ASM_SIZE <= n and _is_asm(data, end))
        if not chained:
            crc = crc16(data, i + ASM_SIZE, end - CRC_SIZE, tables)
            if crc != ((np.int64(data[end - 2]) << 8) | data[end - 1]):
                if skip_from < 0:
                    skip_from = i
                    reason = BAD_CRC
                i += 1
                continue
        if skip_from >= 0:
            dmg[nd, 0] = skip_from
            dmg[nd, 1] = i
            dmg[nd, 2] = reason
            nd += 1
            skip_from = -1
        if apid == target_apid:
            starts[ns] = i
            ns += 1
        nf += 1
        i = end
    if i < n:
        # what remains cannot hold a complete frame: a truncated tail (or trailing garbage)
        if skip_from < 0:
            skip_from = i
            reason = TRUNCATED
        dmg[nd, 0] = skip_from
        dmg[nd, 1] = n
        dmg[nd, 2] = reason
        nd += 1
    return ns, nd, nf


@njit(cache=True)
def _step8(crc, data, k, tables):
    x = crc ^ ((np.int64(data[k]) << 8) | np.int64(data[k + 1]))
    return (np.int64(tables[7, x >> 8]) ^ np.int64(tables[6, x & 0xFF])
            ^ np.int64(tables[5, data[k + 2]]) ^ np.int64(tables[4, data[k + 3]])
            ^ np.int64(tables[3, data[k + 4]]) ^ np.int64(tables[2, data[k + 5]])
            ^ np.int64(tables[1, data[k + 6]]) ^ np.int64(tables[0, data[k + 7]]))


@njit(cache=True)
def _step1(crc, data, k, tables):
    return ((crc << 8) & 0xFFFF) ^ np.int64(tables[0, ((crc >> 8) ^ np.int64(data[k])) & 0xFF])


@njit(cache=True)
def _trailer(data, k):
    return (np.int64(data[k]) << 8) | np.int64(data[k + 1])


@njit(cache=True)
def check_crcs(data, starts, size, tables, crc_ok):
    """Verify the CRC-16 of many frames holding packets of one length.

    Four frames advance together so their independent CRC chains overlap in the CPU pipeline
    (one chain alone is bound by the latency of its table look-ups).

    Parameters
    ----------
    data : uint8[:]
        The framed stream.
    starts : int64[:]
        Offsets of the frames' sync markers.
    size : int
        [B] packet length (all frames of one APID have it).
    tables : uint16[8, 256]
        ``crc16_tables()``.
    crc_ok : bool[len(starts)]
        Out: True where the frame's CRC matches.
    """
    n = starts.shape[0]
    r = 0
    while r + 4 <= n:
        p0 = starts[r] + ASM_SIZE
        p1 = starts[r + 1] + ASM_SIZE
        p2 = starts[r + 2] + ASM_SIZE
        p3 = starts[r + 3] + ASM_SIZE
        c0 = c1 = c2 = c3 = np.int64(CRC_INIT)
        j = 0
        while j + 8 <= size:
            c0 = _step8(c0, data, p0 + j, tables)
            c1 = _step8(c1, data, p1 + j, tables)
            c2 = _step8(c2, data, p2 + j, tables)
            c3 = _step8(c3, data, p3 + j, tables)
            j += 8
        while j < size:
            c0 = _step1(c0, data, p0 + j, tables)
            c1 = _step1(c1, data, p1 + j, tables)
            c2 = _step1(c2, data, p2 + j, tables)
            c3 = _step1(c3, data, p3 + j, tables)
            j += 1
        crc_ok[r] = c0 == _trailer(data, p0 + size)
        crc_ok[r + 1] = c1 == _trailer(data, p1 + size)
        crc_ok[r + 2] = c2 == _trailer(data, p2 + size)
        crc_ok[r + 3] = c3 == _trailer(data, p3 + size)
        r += 4
    while r < n:
        p = starts[r] + ASM_SIZE
        crc_ok[r] = crc16(data, p, p + size, tables) == _trailer(data, p + size)
        r += 1


@njit(cache=True)
def gather_swapped(data, starts, perm, out):
    """Copy packets out of their frames into native-endian records in one pass.

    ``out[r * size + j] = data[starts[r] + 4 + perm[j]]`` where ``perm`` reverses the bytes of every
    multi-byte big-endian element (``byteswap_permutation``), so ``out`` viewed with the packet's
    native-order dtype holds the decoded values.
    """
    size = perm.shape[0]
    for r in range(starts.shape[0]):
        p = starts[r] + ASM_SIZE
        q = r * size
        for j in range(size):
            out[q + j] = data[p + perm[j]]


def byteswap_permutation(dtype: np.dtype, native_little: bool) -> np.ndarray:
    """Byte permutation turning one big-endian record of ``dtype`` into native order.

    Identity when the machine is big-endian; char (``S``) and one-byte elements keep their order.
    """
    perm = np.arange(dtype.itemsize, dtype=np.int64)
    if not native_little:
        return perm
    for name in dtype.names:
        fdt, offset = dtype.fields[name][:2]
        base, count = (fdt.subdtype[0], int(np.prod(fdt.subdtype[1]))) if fdt.subdtype else (fdt, 1)
        if base.kind == "S" or base.itemsize == 1:
            continue
        for e in range(count):
            lo = offset + e * base.itemsize
            perm[lo:lo + base.itemsize] = perm[lo:lo + base.itemsize][::-1].copy()
    return perm
