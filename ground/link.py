"""Ground side of the live link: connect to a flying flight software, send telecommands, read telemetry.

Only the link and ``telemetry`` (formats, dictionary, framing, SDLS wrapping) are used here: the ground
never calls into the flight software. ``docs/ground-link.md`` gives the byte layout for clients in
other languages.

- ``LinkClient(url)``: ``tcp://HOST:PORT`` (the flight's server), ``udp://HOST:PORT`` (where the
  flight receives telecommands; telemetry is read on ``tm_listen``), or a pyserial URL.
- ``build_command(name, {arg: text})``: a telecommand packet from the dictionary, every argument
  checked (type, range, enum names) before anything is sent.
- ``Uplink``: wraps packets with the SDLS header and MAC when a key is given, keeping the client's
  ARSN in a state file so successive calls keep increasing it.
"""

from __future__ import annotations

import math
import select
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import serial

from telemetry import sdls
from telemetry.codec import PacketError, decode_tm, peek_apid, tc_codec
from telemetry.dictionary import CMD_BY_NAME, TM_BY_NAME
from telemetry.errors import InputError
from telemetry.framing import Deframer, frame
from telemetry.headers import SEQ_COUNT_MOD

GROUND_ARSN_SUFFIX = ".ground-arsn"  # default client ARSN state file: beside the key file
TIME_TAG_MAX = 64                    # [B] TIME_TAG's enclosed packet field
CMD_ACK_APID = TM_BY_NAME["CMD_ACK"].apid
READ_CHUNK = 65536


class LinkError(InputError):
    """A link URL, key, argument or connection problem; the message is one line."""


def _host_port(text: str, what: str) -> tuple[str, int]:
    parts = urlsplit(f"//{text}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise LinkError(f"{what} {text!r}: expected HOST:PORT")
    return parts.hostname, port


class LinkClient:
    """One connection to the flight's ground link.

    Parameters
    ----------
    url : str
        ``tcp://HOST:PORT``, ``udp://HOST:PORT`` or a pyserial URL.
    tm_listen : str, optional
        ``HOST:PORT`` to receive telemetry datagrams on (udp:// only).
    timeout_s : float
        [s] connection timeout.
    """

    def __init__(self, url: str, tm_listen: str | None = None, timeout_s: float = 5.0):
        self.url = url
        self.deframer = Deframer()
        self._sock = self._tm = self._port = None
        self._dest = None
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        try:
            if scheme == "tcp":
                host, port = _host_port(url.split("://", 1)[1], "--link")
                self._sock = socket.create_connection((host, port), timeout=timeout_s)
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.framed = True
            elif scheme == "udp":
                host, port = _host_port(url.split("://", 1)[1], "--link")
                self._dest = (host, port)
                self._sock = socket.socket(socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0][0],
                                           socket.SOCK_DGRAM)
                if tm_listen is not None:
                    lhost, lport = _host_port(tm_listen, "--tm-listen")
                    self._tm = socket.socket(socket.getaddrinfo(lhost, lport, type=socket.SOCK_DGRAM)[0][0],
                                             socket.SOCK_DGRAM)
                    self._tm.bind((lhost, lport))
                self.framed = False
            else:
                self._port = serial.serial_for_url(url, timeout=0)
                self.framed = True
        except (OSError, serial.SerialException) as exc:
            self.close()
            raise LinkError(f"--link {url}: cannot connect: {getattr(exc, 'strerror', None) or exc}") from None

    def send(self, body: bytes) -> None:
        """Send one telecommand frame body (framed on streams, one datagram on UDP)."""
        try:
            if self._port is not None:
                self._port.write(frame(body))
                self._port.flush()
            elif self._dest is not None:
                self._sock.sendto(body, self._dest)
            else:
                self._sock.sendall(frame(body))
        except (OSError, serial.SerialException) as exc:
            raise LinkError(f"--link {self.url}: send failed: {exc}") from None

    def receive(self, timeout_s: float) -> list[bytes] | None:
        """Telemetry packets that arrive within ``timeout_s``; None when the flight closed the link."""
        if self._port is not None:
            deadline = time.monotonic() + timeout_s
            while True:
                data = self._port.read(self._port.in_waiting or 1)
                if data or time.monotonic() >= deadline:
                    break
                time.sleep(0.005)
            return self.deframer.feed(data).packets
        sock = self._tm if self._dest is not None else self._sock
        if sock is None:
            time.sleep(timeout_s)
            return []
        if not select.select([sock], [], [], max(timeout_s, 0.0))[0]:
            return []
        if self._dest is not None:
            return [sock.recv(READ_CHUNK)]
        try:
            data = sock.recv(READ_CHUNK)
        except OSError:
            return None
        if not data:
            return None
        return self.deframer.feed(data).packets

    def close(self) -> None:
        for s in (self._sock, self._tm, self._port):
            if s is not None:
                try:
                    s.close()
                except (OSError, serial.SerialException):
                    pass


# ---------------------------------------------------------------------------------------------------
# telecommands from the dictionary


def parse_value(cmd: str, field, text: str):
    """Value of argument ``field`` of command ``cmd`` from its text (a number, or an enum name)."""
    allowed = _allowed(field)
    if field.enum and text.upper() in {v.upper() for v in field.enum.values()}:
        return next(k for k, v in field.enum.items() if v.upper() == text.upper())
    try:
        value = int(text, 0) if not field.type.startswith("f") else float(text)
    except ValueError:
        raise LinkError(f"{cmd}: argument {field.name}: {text!r} is not {allowed}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise LinkError(f"{cmd}: argument {field.name}: {text!r} is not {allowed}")
    if (field.lo is not None and value < field.lo) or (field.hi is not None and value > field.hi):
        raise LinkError(f"{cmd}: argument {field.name}: {text} is out of range: {allowed}")
    return value


def _allowed(field) -> str:
    kind = "a number" if field.type.startswith("f") else "an integer"
    rng = f" in [{field.lo:g}, {field.hi:g}]" if field.lo is not None and field.hi is not None else ""
    names = f" or one of {', '.join(field.enum.values())}" if field.enum else ""
    return f"{kind}{rng}{names}"


def build_command(name: str, texts: dict[str, str], seq: int) -> bytes:
    """Telecommand packet ``name`` with arguments given as text; LinkError naming a bad one."""
    cmd = CMD_BY_NAME.get(name.upper())
    if cmd is None:
        raise LinkError(f"unknown command {name!r}; commands: {', '.join(CMD_BY_NAME)}")
    fields = {f.name: f for f in cmd.args}
    unknown = sorted(set(texts) - set(fields))
    if unknown:
        raise LinkError(f"{cmd.name}: no argument {unknown[0]!r}; arguments: {', '.join(fields) or 'none'}")
    missing = [f for f in fields if f not in texts]
    if missing:
        f = fields[missing[0]]
        raise LinkError(f"{cmd.name}: argument {f.name} missing: {_allowed(f)}")
    args = {}
    for fname, f in fields.items():
        if f.count > 1:
            raise LinkError(f"{cmd.name}: argument {fname} is an array; use --raw")
        args[fname] = parse_value(cmd.name, f, texts[fname])
    try:
        return tc_codec(cmd.name).pack(seq % SEQ_COUNT_MOD, **args)
    except PacketError as err:
        raise LinkError(str(err)) from None


def time_tagged(packet: bytes, at_s: float, seq: int) -> bytes:
    """TIME_TAG enclosing ``packet``, executed at mission time ``at_s``."""
    if len(packet) > TIME_TAG_MAX:
        raise LinkError(f"--at: a {len(packet)}-byte command does not fit TIME_TAG ({TIME_TAG_MAX} B)")
    padded = tuple(packet) + (0,) * (TIME_TAG_MAX - len(packet))
    try:
        return tc_codec("TIME_TAG").pack(seq % SEQ_COUNT_MOD, exec_time_s=float(at_s), packet_len=len(packet),
                                         packet=padded)
    except PacketError as err:
        raise LinkError(f"--at {at_s}: {err}") from None


class Uplink:
    """Wraps telecommands for the link: SDLS header + MAC with a key, the packet alone without.

    The last ARSN used per SPI is kept in ``arsn_file`` (written before each send, atomically), so
    successive ``qz cmd`` calls keep increasing it and a crash never reuses one.
    """

    def __init__(self, key_file: str | None = None, spi: int | None = None, arsn_file: str | None = None):
        self.key = None
        self.spi = spi
        self.arsn_file = None
        if key_file is None:
            if spi is not None:
                raise LinkError("--spi needs --key-file")
            return
        keys = sdls.load_keys(key_file)
        if spi is None:
            if len(keys) != 1:
                raise LinkError(f"key file {key_file} holds {len(keys)} keys: choose one with --spi")
            spi = next(iter(keys))
        if spi not in keys:
            raise LinkError(f"--spi {spi}: not in key file {key_file} (SPIs: {', '.join(map(str, sorted(keys)))})")
        self.spi, self.key = spi, keys[spi]
        self.arsn_file = Path(arsn_file) if arsn_file else Path(key_file + GROUND_ARSN_SUFFIX)
        self.last = sdls.load_arsn(self.arsn_file)

    @property
    def authenticated(self) -> bool:
        return self.key is not None

    def next_seq(self) -> int:
        """CCSDS sequence count of the next telecommand: the ARSN's low bits, or a time-based count."""
        if self.key is not None:
            return (self.last.get(self.spi, 0) + 1) % SEQ_COUNT_MOD
        return int(time.time() * 10) % SEQ_COUNT_MOD

    def wrap(self, packet: bytes) -> bytes:
        if self.key is None:
            return packet
        arsn = self.last.get(self.spi, 0) + 1
        if arsn > sdls.ARSN_MAX:
            raise LinkError(f"SPI {self.spi}: ARSN exhausted; a new key (SPI) is needed")
        self.last[self.spi] = arsn
        sdls.save_arsn(self.arsn_file, self.last)
        return sdls.wrap(packet, self.spi, arsn, self.key)


def ack_of(packet: bytes):
    """``(cmd_apid, function_code, cmd_seq, status, reason)`` of a CMD_ACK packet, else None."""
    if peek_apid(packet) != CMD_ACK_APID:
        return None
    try:
        _, _, _, values = decode_tm(packet)
    except PacketError:
        return None
    return values
