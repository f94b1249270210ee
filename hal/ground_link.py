"""Transports of the flight software's ground link: TCP server, UDP (cFS style), any pyserial URL.

Each is polled by the ground-link app once per cycle and never waits: sockets are non-blocking,
serial ports are opened with zero timeouts. The interface (see ``fsw.apps.ground_link``):
``framed``, ``url``, ``loopback``, ``service(rx_bytes) -> (opened, closed, data)``, ``write(cid, data)
-> int``, ``disconnect(cid)``, ``close()``.

- ``tcp://HOST:PORT``: a listening socket; every connection is a client getting the whole downlink,
  framed as ``telemetry.ccsds`` (sync marker, packet, CRC-16); telecommand frames come back the same way.
- ``udp://HOST:PORT``: telecommands are received on the bound port, one per datagram; telemetry goes,
  one packet per datagram, to the destination given separately (``tm_dest``).
- anything else is a pyserial URL (``/dev/ttyUSB1``, ``socket://h:p``, ``rfc2217://h:p``, ``loop://``),
  framed like TCP; a port that fails is closed and reopened every ``reopen_s``.
"""

from __future__ import annotations

import errno
import select
import socket
from urllib.parse import urlsplit

import serial

from hal import timebase
from hal.serial_link import open_url
from telemetry.addresses import host_port, is_loopback
from telemetry.errors import InputError

LISTEN_BACKLOG = socket.SOMAXCONN  # connections the kernel holds between two cycles (accepted once per cycle)
UDP_MAX = 65535          # [B] largest datagram read
CLIENT_SNDBUF = 65536    # [B] kernel send buffer per TCP client (Linux doubles it)
SERIAL_REOPEN_S = 1.0    # [s] between attempts to reopen a failed serial port


class LinkUrlError(InputError):
    """A ``--link`` URL or address that cannot be served; the message is one line."""


def _bind(kind: int, host: str, port: int, url: str) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=kind)
    except OSError as exc:
        raise LinkUrlError(f"--link {url}: cannot resolve {host!r}: {exc.strerror or exc}") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        if kind == socket.SOCK_STREAM:
            sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise LinkUrlError(f"--link {url}: port {port} is in use") from None
        raise LinkUrlError(f"--link {url}: cannot bind {host}:{port}: {exc.strerror or exc}") from None
    return sock


class TcpServer:
    """``tcp://HOST:PORT``: several clients, framed stream both ways."""

    framed = True

    def __init__(self, host: str, port: int):
        self._sock = _bind(socket.SOCK_STREAM, host, port, f"tcp://{host}:{port}")
        self.host = host
        self.port = self._sock.getsockname()[1]   # the bound port (port 0: chosen by the system)
        self.url = f"tcp://{host}:{self.port}"
        self.loopback = is_loopback(host)
        self._clients: dict[int, tuple[socket.socket, bool]] = {}
        self._cid_of: dict[socket.socket, int] = {}
        self._fds: list = [self._sock]
        self._next = 1

    def service(self, rx_bytes: int):
        opened, closed, data = [], [], []
        ready = select.select(self._fds, [], [], 0)[0]
        if not ready:
            return opened, closed, data
        for s in ready:
            if s is self._sock:
                self._accept(opened)
                continue
            cid = self._cid_of[s]
            try:
                chunk = s.recv(rx_bytes)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                chunk = b""
            if chunk:
                data.append((cid, chunk, self._clients[cid][1]))
            else:
                closed.append(cid)
                self.disconnect(cid)
        return opened, closed, data

    def _accept(self, opened) -> None:
        while True:
            try:
                s, addr = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of file descriptors, a connection reset while queued: try next cycle
                return
            s.setblocking(False)
            try:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                # the per-client queue, not a kernel buffer of megabytes, decides what a slow client loses
                s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CLIENT_SNDBUF)
            except OSError:
                pass
            cid = self._next
            self._next += 1
            loopback = is_loopback(addr[0])
            self._clients[cid] = (s, loopback)
            self._cid_of[s] = cid
            self._fds.append(s)
            opened.append((cid, f"{addr[0]}:{addr[1]}", loopback))

    def write(self, cid: int, data) -> int:
        entry = self._clients.get(cid)
        if entry is None:
            return -1
        try:
            return entry[0].send(data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            return -1

    def disconnect(self, cid: int) -> None:
        entry = self._clients.pop(cid, None)
        if entry is not None:
            self._fds.remove(entry[0])
            del self._cid_of[entry[0]]
            try:
                entry[0].close()
            except OSError:
                pass

    def close(self) -> None:
        for cid in list(self._clients):
            self.disconnect(cid)
        self._sock.close()


class UdpLink:
    """``udp://HOST:PORT``: telecommand datagrams in on the bound port, telemetry datagrams to ``dest``."""

    framed = False
    CID = 0

    def __init__(self, host: str, port: int, dest: tuple[str, int]):
        self._sock = _bind(socket.SOCK_DGRAM, host, port, f"udp://{host}:{port}")
        self.port = self._sock.getsockname()[1]
        self.url = f"udp://{host}:{self.port}"
        self.loopback = is_loopback(host)
        try:
            self._dest = socket.getaddrinfo(dest[0], dest[1], self._sock.family, socket.SOCK_DGRAM)[0][4]
        except OSError as exc:
            self._sock.close()
            raise LinkUrlError(f"--tm-dest {dest[0]}:{dest[1]}: cannot resolve: {exc.strerror or exc}") from None
        self.dest = f"{dest[0]}:{dest[1]}"
        self.dest_loopback = is_loopback(dest[0])
        self._announced = False

    def service(self, rx_bytes: int):
        opened, data = [], []
        if not self._announced:
            self._announced = True
            opened.append((self.CID, self.dest, self.dest_loopback))
        got = 0
        while got < rx_bytes:
            try:
                dgram, addr = self._sock.recvfrom(UDP_MAX)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # an ICMP error reported on a later call: the datagram is lost anyway
                continue
            got += len(dgram)
            data.append((self.CID, dgram, is_loopback(addr[0])))
        return opened, [], data

    def write(self, cid: int, data) -> int:
        try:
            return self._sock.sendto(data, self._dest)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:  # nobody listening, no route: UDP telemetry is fire and forget
            return len(data)

    def disconnect(self, cid: int) -> None:
        """UDP has no connection to drop."""

    def close(self) -> None:
        self._sock.close()


class SerialGroundLink:
    """Any pyserial URL: one client while the port is open, framed stream both ways."""

    framed = True

    def __init__(self, url: str, baud: int = 115200, opener=None, reopen_s: float = SERIAL_REOPEN_S):
        self.url = url
        self.baud = int(baud)
        self.loopback = serial_url_is_loopback(url)
        self._opener = opener or open_url
        self.reopen_s = float(reopen_s)
        self._port = None
        self._fd = -1
        self._cid = 0
        self._next_try = 0.0
        self._pending_close: list[int] = []
        self._new = False
        self.open_errors = 0
        if not self._try_open():
            raise LinkUrlError(f"--link {url}: cannot open the port")

    def _try_open(self) -> bool:
        try:
            port = self._opener(self.url, self.baud)
        except (serial.SerialException, OSError, ValueError):
            self.open_errors += 1
            self._next_try = timebase.monotonic_s() + self.reopen_s
            return False
        try:
            self._fd = port.fileno()
        except (AttributeError, OSError, serial.SerialException, NotImplementedError):
            self._fd = -1
        self._port = port
        self._cid += 1
        self._new = True
        return True

    def service(self, rx_bytes: int):
        opened, closed, data = [], self._pending_close, []
        self._pending_close = []
        if self._port is None:
            if timebase.monotonic_s() < self._next_try or not self._try_open():
                return opened, closed, data
        if self._new:
            self._new = False
            opened.append((self._cid, self.url, self.loopback))
        try:
            waiting = self._port.in_waiting
            chunk = self._port.read(min(waiting, rx_bytes)) if waiting else b""
        except (serial.SerialException, OSError):
            closed.append(self._cid)
            self._drop()
            return opened, closed, data
        if chunk:
            data.append((self._cid, chunk, self.loopback))
        return opened, closed, data

    def write(self, cid: int, data) -> int:
        port = self._port
        if port is None or cid != self._cid:
            return -1
        try:
            if self._fd >= 0 and not select.select([], [self._fd], [], 0)[1]:
                return 0
            n = port.write(data)
        except serial.SerialTimeoutException:
            return 0
        except (serial.SerialException, OSError):
            self._pending_close.append(self._cid)
            self._drop()
            return -1
        return len(data) if n is None else n

    def _drop(self) -> None:
        port, self._port, self._fd = self._port, None, -1
        self._next_try = timebase.monotonic_s() + self.reopen_s
        try:
            port.close()
        except Exception:  # a port that just failed may fail to close too
            pass

    def disconnect(self, cid: int) -> None:
        """A serial line is not dropped for its client; the app stops using the client."""

    def close(self) -> None:
        if self._port is not None:
            self._drop()


def serial_url_is_loopback(url: str) -> bool:
    """``loop://``, or ``socket://`` / ``rfc2217://`` to a loopback host; a device line is not loopback."""
    if url.startswith("loop://"):
        return True
    parts = urlsplit(url)
    if parts.scheme in ("socket", "rfc2217") and parts.hostname:
        return is_loopback(parts.hostname)
    return False


def open_transport(url: str, tm_dest: str | None = None, baud: int = 115200):
    """The transport serving ``url``; LinkUrlError (one line) on a bad URL, a port in use, a bad device."""
    if not isinstance(url, str) or not url:
        raise LinkUrlError(f"--link {url!r}: expected tcp://HOST:PORT, udp://HOST:PORT or a pyserial URL")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("tcp", "udp"):
        host, port = host_port(url.split("://", 1)[1], "--link", LinkUrlError)
        if scheme == "tcp":
            if tm_dest is not None:
                raise LinkUrlError("--tm-dest is for udp:// links (TCP clients get telemetry on their connection)")
            return TcpServer(host, port)
        if tm_dest is None:
            raise LinkUrlError(f"--link {url}: a udp:// link needs --tm-dest HOST:PORT (where telemetry goes)")
        return UdpLink(host, port, host_port(tm_dest, "--tm-dest", LinkUrlError))
    if tm_dest is not None:
        raise LinkUrlError("--tm-dest is for udp:// links only")
    if scheme and scheme not in ("socket", "rfc2217", "loop", "spy", "alt", "hwgrep", "cp2110"):
        raise LinkUrlError(f"--link {url}: unknown scheme {scheme!r} (tcp://, udp:// or a pyserial URL)")
    return SerialGroundLink(url, baud)
