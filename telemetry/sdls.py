"""Authenticated telecommands of the ground link (CCSDS 355.0-B SDLS-like, authentication only).

A telecommand on the link is wrapped, as both ends (flight and ground tools) read it from here::

    SPI (u16 BE) | ARSN (u32 BE) | CCSDS telecommand packet | MAC (16 B)

``MAC = HMAC-SHA-256(key[SPI], SPI | ARSN | packet)`` truncated to its first 16 bytes. The flight
refuses an unknown SPI, a MAC that does not verify and an ARSN (anti-replay sequence number) not
greater than the last one it accepted for that SPI. On stream links the wrapped telecommand is the
body of one frame of ``telemetry.framing`` (sync marker + body + CRC-16 over the body); on UDP it is
one datagram.

Keys: a key file holds one ``SPI hex-key`` per line (``#`` comments); it is refused when anyone but
its owner may read or write it. ARSN state files (the flight's last accepted ARSN per SPI, a ground
client's last sent ARSN) are JSON, replaced atomically so a crash never leaves half a file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import struct
import tempfile
from pathlib import Path

from construct import Bytes, Int16ub, Int32ub, Struct

from telemetry.errors import InputError

SPI_SIZE = 2            # [B] security parameter index, big-endian
ARSN_SIZE = 4           # [B] anti-replay sequence number, big-endian
HEADER_SIZE = SPI_SIZE + ARSN_SIZE
MAC_SIZE = 16           # [B] HMAC-SHA-256 truncated to its first 16 bytes (CCSDS 352.0-B allows truncation)
OVERHEAD = HEADER_SIZE + MAC_SIZE
LAYOUT = (HEADER_SIZE, MAC_SIZE)  # telemetry.framing.Deframer layout of a wrapped telecommand
SPI_MIN, SPI_MAX = 1, 0xFFFF     # SPI 0 is not a key
ARSN_MAX = 0xFFFFFFFF
KEY_MIN_BYTES = 16      # [B] shortest key accepted (128 bits)
PRIVATE_MODE_MASK = stat.S_IRWXG | stat.S_IRWXO  # any permission for group or others

SecurityHeader = Struct(
    "spi" / Int16ub * "security parameter index: which key of the key file",
    "arsn" / Int32ub * "anti-replay sequence number, strictly increasing per SPI",
)
SecurityTrailer = Struct(
    "mac" / Bytes(MAC_SIZE) * "HMAC-SHA-256 over SPI, ARSN and packet, first 16 bytes",
)
_HEADER = struct.Struct(">HI")
if _HEADER.size != SecurityHeader.sizeof() or MAC_SIZE != SecurityTrailer.sizeof():
    raise AssertionError("telemetry.sdls: struct layout disagrees with the construct declaration")


class KeyFileError(InputError):
    """A key or ARSN state file that cannot be used; the message is one line naming the file."""


def mac(key: bytes, header: bytes, packet: bytes) -> bytes:
    """Truncated HMAC-SHA-256 of ``header`` (SPI + ARSN, 6 bytes) followed by ``packet``."""
    return hmac.new(key, header + packet, hashlib.sha256).digest()[:MAC_SIZE]


def wrap(packet: bytes, spi: int, arsn: int, key: bytes) -> bytes:
    """The authenticated telecommand: security header + ``packet`` + MAC."""
    if not SPI_MIN <= spi <= SPI_MAX:
        raise ValueError(f"SPI {spi} is not in {SPI_MIN}..{SPI_MAX}")
    if not 0 <= arsn <= ARSN_MAX:
        raise ValueError(f"ARSN {arsn} is not in 0..{ARSN_MAX}")
    header = _HEADER.pack(spi, arsn)
    return header + bytes(packet) + mac(key, header, bytes(packet))


def split(body: bytes) -> tuple[int, int, bytes, bytes]:
    """``(spi, arsn, packet, mac)`` of a wrapped telecommand; ValueError when too short to be one."""
    if len(body) < OVERHEAD + 1:
        raise ValueError(f"{len(body)} bytes is too short for a wrapped telecommand (>= {OVERHEAD + 1})")
    spi, arsn = _HEADER.unpack_from(body)
    return spi, arsn, body[HEADER_SIZE:-MAC_SIZE], body[-MAC_SIZE:]


def verify(body: bytes, keys: dict[int, bytes]) -> tuple[str, int, int, bytes]:
    """Check the MAC of a wrapped telecommand: ``(verdict, spi, arsn, packet)``.

    ``verdict`` is ``"OK"``, ``"UNKNOWN_SPI"`` or ``"BAD_MAC"``; anti-replay is the caller's (it keeps
    the last accepted ARSN per SPI). The comparison takes the same time whatever the MAC.
    """
    spi, arsn, packet, tag = split(body)
    key = keys.get(spi)
    if key is None:
        return "UNKNOWN_SPI", spi, arsn, packet
    if not hmac.compare_digest(mac(key, body[:HEADER_SIZE], packet), tag):
        return "BAD_MAC", spi, arsn, packet
    return "OK", spi, arsn, packet


def check_private(path: Path, what: str) -> None:
    """Refuse ``path`` when its group or others have any permission on it (as ssh does for keys)."""
    mode = path.stat().st_mode
    if mode & PRIVATE_MODE_MASK:
        raise KeyFileError(f"{what} {path} is readable or writable by other users (mode "
                           f"{stat.S_IMODE(mode):04o}); run: chmod 600 {path}")


def load_keys(path) -> dict[int, bytes]:
    """Keys of a key file: SPI -> key bytes. KeyFileError (one line) on any problem."""
    path = Path(path)
    try:
        check_private(path, "key file")
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise KeyFileError(f"key file {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"key file {path}: {exc}") from None
    keys: dict[int, bytes] = {}
    for n, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.split()
        where = f"key file {path} line {n}"
        if len(parts) != 2:
            raise KeyFileError(f"{where}: expected 'SPI hex-key', got {len(parts)} fields")
        try:
            spi = int(parts[0], 0)
        except ValueError:
            raise KeyFileError(f"{where}: SPI {parts[0]!r} is not an integer") from None
        if not SPI_MIN <= spi <= SPI_MAX:
            raise KeyFileError(f"{where}: SPI {spi} is not in {SPI_MIN}..{SPI_MAX}")
        try:
            key = bytes.fromhex(parts[1])
        except ValueError:
            raise KeyFileError(f"{where}: the key is not hexadecimal") from None
        if len(key) < KEY_MIN_BYTES:
            raise KeyFileError(f"{where}: key of {len(key)} bytes, at least {KEY_MIN_BYTES} needed")
        if spi in keys:
            raise KeyFileError(f"{where}: SPI {spi} appears twice")
        keys[spi] = key
    if not keys:
        raise KeyFileError(f"key file {path}: no key in it")
    return keys


def load_arsn(path) -> dict[int, int]:
    """ARSN state file: SPI -> ARSN (empty when the file does not exist). KeyFileError when unreadable."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"ARSN file {path}: {str(exc).splitlines()[0]}") from None
    try:
        out = {int(spi): int(arsn) for spi, arsn in doc["arsn"].items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise KeyFileError(f"ARSN file {path}: expected {{\"arsn\": {{\"SPI\": N, ...}}}}") from None
    bad = [spi for spi, arsn in out.items() if not (SPI_MIN <= spi <= SPI_MAX and 0 <= arsn <= ARSN_MAX)]
    if bad:
        raise KeyFileError(f"ARSN file {path}: SPI {bad[0]} or its ARSN out of range")
    return out


def save_arsn(path, arsn: dict[int, int]) -> None:
    """Write the ARSN state atomically (temporary file in the same folder, fsync, rename), mode 0600."""
    path = Path(path)
    text = json.dumps({"arsn": {str(spi): int(n) for spi, n in sorted(arsn.items())}}) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
