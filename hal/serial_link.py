"""Serial links of the HAL: framed CCSDS packets over any pyserial URL, and the serial backend.

``SerialLink`` is one port (``serial.serial_for_url``: ``/dev/ttyUSB0``, ``/dev/pts/N``, ``loop://``,
``socket://host:port``, ``rfc2217://host:port``) carrying frames of ``telemetry.framing`` (sync marker
+ space packet + CRC-16). It is used by both ends of a bench: the flight software's
``SerialBackend`` and the bench device emulator (``sims.bench``).

Reading never blocks the executive: the executive thread reads whatever the operating system holds
(``receive``), never more; only lockstep waits, bounded by a timeout (``receive(block_s=...)``).
No reader thread: a thread handing packets over would contend for the GIL with the executive's
spin-wait at the frame boundary. A port that fails (unplugged adapter, closed pty, dropped socket)
is closed and reopened by a background thread while the executive keeps running; frames sent
meanwhile are dropped and counted.

``SerialBackend`` (the flight side) owns one record per device (``hal.devices``): sensor packets are
decoded into their records in ``poll``, actuator records whose ``seq`` advanced are sent in ``flush``.
Staleness: a sensor silent for longer than its ``stale_s`` gets its bit set in ``stale_mask``
(bit i = ``hal.devices.SENSORS[i]``). Its record is left untouched (``seq`` and ``t_ns`` do not move),
which is exactly what FDIR's ``stale_s`` watchpoints on ``t_ns`` and the apps' new-sample checks on
``seq`` look at; ``valid`` is not rewritten, so no record ever holds a value the device did not send.

Lockstep (``SerialBackend(lockstep=True)``): ``poll`` for frame n sends ``BENCH_TICK(frame=n)`` after
the actuator packets of frame n-1 (sent by ``flush``) and waits for the emulator's answer: the
sensor packets of its truth step n-1, then ``BENCH_TICK(frame=n)`` echoed as the end-of-frame marker.
The flight tasks of frame n therefore read the samples of step n-1, as in software-in-the-loop.
``BENCH_TICK(frame=END_OF_RUN)`` from either side ends the run.

Start-up fails fast and says why: a port that cannot be opened raises :class:`PortError` at once,
naming the port and the operating system's reason; a far end that never answers the handshake
raises it when the connect timeout expires. Only a port lost *after* start-up is reopened in the
background.
"""

from __future__ import annotations

import logging
import math
import select
import threading
import time
import tomllib
from collections import deque
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import serial

from hal import timebase
from hal.devices import ACTUATORS, SENSORS, new_record
from hal.interface import Hal
from telemetry.codec import PacketError, peek_apid, tm_codec
from telemetry.dictionary import record_dtype
from telemetry.errors import InputError
from telemetry.framing import Deframer, frame
from telemetry.headers import SEQ_COUNT_MOD, peek_seq_count

log = logging.getLogger(__name__)

TICK = "BENCH_TICK"
TICK_APID = tm_codec(TICK).apid
END_OF_RUN = 0xFFFFFFFF          # BENCH_TICK frame number that ends the run (either direction)
READ_CHUNK = 4096                # [B] largest read per call
_SEQ_MASK = SEQ_COUNT_MOD - 1
DEFAULT_BENCH_FILE = Path(__file__).resolve().parent / "bench.toml"


@dataclass
class LinkStats:
    """Counters of one link since it was created (the LINK_STATS packet carries the first nine)."""

    bytes_rx: int = 0
    bytes_tx: int = 0
    frames_rx: int = 0        # frames with a good CRC
    frames_tx: int = 0
    crc_errors: int = 0       # frames rejected by their CRC
    gaps: int = 0             # packets missing from per-APID sequence counts
    resyncs: int = 0          # times the deframer found a frame after skipped bytes
    reconnects: int = 0       # times the port was reopened after a failure
    bad_headers: int = 0      # sync markers followed by an impossible header or length
    bytes_skipped: int = 0    # bytes the deframer gave up on
    rejected: int = 0         # good frames whose packet could not be used (unknown APID, bad layout)
    tx_dropped: int = 0       # frames not sent: port down or backlog full
    tick_timeouts: int = 0    # lockstep frames that started without the far end's end-of-frame marker
    port_errors: int = 0      # read/write/open failures

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class PortError(InputError):
    """A port that cannot be opened, or a far end that never answers: names the port and the reason."""


class SeqTracker:
    """Per-APID CCSDS sequence counts: the number of packets lost between consecutive receptions."""

    def __init__(self):
        self._last: dict[int, int] = {}

    def observe(self, apid: int, seq_count: int) -> int:
        """Record ``seq_count`` of ``apid``; return how many packets are missing before it (0 if none)."""
        last = self._last.get(apid)
        self._last[apid] = seq_count
        if last is None:
            return 0
        return (seq_count - last - 1) & _SEQ_MASK

    def reset(self) -> None:
        self._last.clear()


def open_url(url: str, baud: int):
    """Open ``url`` with pyserial for non-blocking use (reads and writes never wait)."""
    # loop:// raises on any write when write_timeout is 0; it never blocks anyway
    write_timeout = None if url.startswith("loop://") else 0
    return serial.serial_for_url(url, baudrate=baud, timeout=0, write_timeout=write_timeout)


class SerialLink:
    """One port carrying framed space packets; see the module docstring.

    Parameters
    ----------
    url : str
        Any pyserial URL or device path.
    baud : int
        [bit/s] line rate (real ports; pyserial's ``loop://`` ignores it).
    link_id : int
        Index of the link in the bench file (LINK_STATS ``link_id``).
    opener : callable, optional
        ``opener(url, baud) -> port``; defaults to :func:`open_url`. Tests and the bench emulator's
        line emulation pass their own.
    reopen_s : float
        [s] between attempts to reopen a failed port.
    tx_backlog_max : int
        [B] unsent bytes kept while the port cannot take more; frames beyond are dropped and counted.
    """

    def __init__(self, url: str, baud: int = 115200, *, link_id: int = 0, opener=None, reopen_s: float = 0.5,
                 tx_backlog_max: int = 65536, name: str = ""):
        self.url = url
        self.baud = int(baud)
        self.link_id = int(link_id)
        self.name = name or url
        self.reopen_s = float(reopen_s)
        self.tx_backlog_max = int(tx_backlog_max)
        self._opener = opener or open_url
        self.stats = LinkStats()
        self.deframer = Deframer()
        self.rx_seq = SeqTracker()
        self._tx_seq = [0] * (1 << 11)
        self._tx: deque[memoryview] = deque()
        self._tx_bytes = 0
        self._port = None
        self._fd = -1
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reopener: threading.Thread | None = None
        self.on_reconnect = None   # optional callable run in the executive thread after a reopen
        self._reopened = False

    # ------------------------------------------------------------------ port state
    @property
    def connected(self) -> bool:
        return self._port is not None

    def open(self, background: bool = True) -> bool:
        """Try to open the port once; on failure keep trying in the background (when ``background``)."""
        if self._try_open():
            return True
        if background:
            self._start_reopener()
        return False

    def open_now(self) -> None:
        """Open the port now; raise :class:`PortError` naming it and the system's reason when that fails."""
        try:
            port = self._opener(self.url, self.baud)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortError(f"port {self.url}: cannot open it: {exc}") from None
        self._adopt(port)

    def _try_open(self) -> bool:
        try:
            port = self._opener(self.url, self.baud)
        except (serial.SerialException, OSError, ValueError) as exc:
            log.debug("link %s: open failed: %s", self.name, exc)
            return False
        self._adopt(port)
        return True

    def _adopt(self, port) -> None:
        fileno = getattr(port, "fileno", None)
        try:
            fd = fileno() if fileno is not None else -1
        except (AttributeError, OSError, serial.SerialException, NotImplementedError):
            fd = -1
        with self._lock:
            self._fd = fd
            self._port = port

    def _start_reopener(self) -> None:
        if self._stop.is_set() or (self._reopener is not None and self._reopener.is_alive()):
            return
        self._reopener = threading.Thread(target=self._reopen_loop, name=f"reopen {self.name}", daemon=True)
        self._reopener.start()

    def _reopen_loop(self) -> None:
        while not self._stop.wait(self.reopen_s):
            if self._try_open():
                self._reopened = True
                log.info("link %s: port reopened", self.name)
                return

    def _fail(self, exc: Exception) -> None:
        """The port failed: close it, drop what was queued, reopen in the background."""
        self.stats.port_errors += 1
        log.warning("link %s: port failed (%s); reopening in the background", self.name, exc)
        with self._lock:
            port, self._port, self._fd = self._port, None, -1
        try:
            port.close()
        except Exception:  # a port that just failed may fail to close too; it is dropped either way
            pass
        self.stats.tx_dropped += len(self._tx)
        self._tx.clear()
        self._tx_bytes = 0
        self._start_reopener()

    def hang_up(self) -> None:
        """Close the port as if it had failed; it is reopened in the background (bench line emulation)."""
        if self._port is not None:
            self._fail(OSError("hang-up"))

    def _check_reopened(self) -> None:
        if self._reopened:
            self._reopened = False
            self.stats.reconnects += 1
            if self.on_reconnect is not None:
                self.on_reconnect()

    # ------------------------------------------------------------------ receiving
    def receive(self, block_s: float = 0.0) -> list[bytes]:
        """Space packets (CRC-checked) that arrived; waits up to ``block_s`` [s] only when none are held."""
        self._check_reopened()
        port = self._port
        if port is None:
            if block_s > 0:
                self._stop.wait(min(block_s, 0.01))
            return []
        fd = self._fd
        try:
            if fd >= 0:
                # readable also when the far end hung up: the read then raises and the port is reopened
                if select.select([fd], [], [], block_s)[0]:
                    data = port.read(READ_CHUNK)
                else:
                    data = b""
            else:
                data = port.read(READ_CHUNK) if port.in_waiting else b""
                if not data and block_s > 0:
                    deadline = timebase.monotonic_s() + block_s
                    while not data and timebase.monotonic_s() < deadline:
                        time.sleep(50e-6)
                        data = port.read(READ_CHUNK) if port.in_waiting else b""
        except (serial.SerialException, OSError) as exc:
            self._fail(exc)
            return []
        if not data:
            return []
        return self.feed(data)

    def feed(self, data: bytes) -> list[bytes]:
        """Deframe received bytes and update the counters; return the good packets."""
        st = self.stats
        st.bytes_rx += len(data)
        result = self.deframer.feed(data)
        d = self.deframer.stats
        st.frames_rx = d.frames_ok
        st.crc_errors = d.crc_errors
        st.resyncs = d.resyncs
        st.bad_headers = d.bad_lengths
        st.bytes_skipped = d.bytes_skipped
        return result.packets

    def track(self, packet: bytes) -> None:
        """Count the packets lost before ``packet`` in its APID's sequence."""
        if len(packet) >= 4:
            self.stats.gaps += self.rx_seq.observe(peek_apid(packet), peek_seq_count(packet))

    # ------------------------------------------------------------------ sending
    def next_seq(self, apid: int) -> int:
        """The next CCSDS sequence count of ``apid`` on this link."""
        seq = self._tx_seq[apid]
        self._tx_seq[apid] = (seq + 1) & _SEQ_MASK
        return seq

    def send(self, packet: bytes) -> None:
        """Queue ``packet`` framed; written by :meth:`drain` (call it once after a burst of sends)."""
        if self._port is None:
            self.stats.tx_dropped += 1
            return
        data = frame(packet)
        if self._tx_bytes + len(data) > self.tx_backlog_max:
            self.stats.tx_dropped += 1
            return
        self._tx.append(memoryview(data))
        self._tx_bytes += len(data)
        self.stats.frames_tx += 1

    def drain(self) -> int:
        """Write queued frames as far as the port takes them without waiting; return bytes still queued."""
        port = self._port
        tx = self._tx
        if port is None or not tx:
            return self._tx_bytes
        try:
            while tx:
                if self._fd >= 0 and not select.select([], [self._fd], [], 0)[1]:
                    break
                head = tx[0]
                n = port.write(head)
                n = len(head) if n is None else n
                self.stats.bytes_tx += n
                self._tx_bytes -= n
                if n < len(head):
                    tx[0] = head[n:]
                    break
                tx.popleft()
        except (serial.SerialException, OSError) as exc:
            self._fail(exc)
        return self._tx_bytes

    def close(self) -> None:
        """Stop reopening and close the port."""
        self._stop.set()
        with self._lock:
            port, self._port, self._fd = self._port, None, -1
        if port is not None:
            try:
                port.close()
            except Exception:  # closing a port that already failed
                pass
        if self._reopener is not None:
            self._reopener.join(timeout=2.0)


# ---------------------------------------------------------------------------------------------------
# bench file: links and their device groups


@dataclass(frozen=True)
class LinkConfig:
    """One serial link of the bench file: port, line rate, the devices it carries, timeouts."""

    name: str
    url: str
    devices: tuple[str, ...]
    baud: int = 115200
    reopen_s: float = 0.5                      # [s] between reopen attempts
    stale_s: dict = field(default_factory=dict)  # sensor -> [s] silence after which it is stale
    lockstep_timeout_s: float = 2.0            # [s] wait for the end-of-frame marker in lockstep
    lockstep_retry_s: float = 0.02             # [s] wait while the far end is not answering


class BenchFileError(InputError):
    """A bench file that is missing, malformed, or does not put every device on exactly one link."""


def _bench_number(t: dict, key: str, default, where: str, kind=float):
    """``t[key]`` as a finite ``kind`` > 0 (``default`` when absent)."""
    v = t.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind is int and not isinstance(v, int)) \
            or not math.isfinite(v) or v <= 0:
        raise BenchFileError(f"{where}: {key}: expected {'an integer' if kind is int else 'a number'} > 0, "
                             f"got {v!r}")
    return kind(v)


def load_bench_file(path: str | Path | None = None, url: str | None = None) -> list[LinkConfig]:
    """Links of a bench file (default ``hal/bench.toml``); ``url`` replaces the first link's port.

    Every device packet must be on exactly one link; unknown keys and devices, and values of the
    wrong type or out of range, are refused with a :class:`BenchFileError` naming the file and key.
    """
    path = Path(path) if path is not None else DEFAULT_BENCH_FILE
    try:
        doc = tomllib.loads(path.read_text())
    except IsADirectoryError:
        raise BenchFileError(f"bench file {path}: is a folder, expected a TOML file") from None
    except OSError as exc:
        raise BenchFileError(f"bench file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BenchFileError(f"bench file {path}: not valid TOML: {exc}") from None
    known = {"name", "port", "baud", "devices", "reopen_s", "stale_s", "lockstep_timeout_s", "lockstep_retry_s"}
    links, seen = [], {}
    defaults_stale = doc.get("stale_s", {})
    extra = set(doc) - {"link", "stale_s"}
    if extra:
        raise BenchFileError(f"bench file {path}: unknown keys {sorted(extra)}")
    tables = doc.get("link", [])
    if not isinstance(tables, list) or not isinstance(defaults_stale, dict):
        raise BenchFileError(f"bench file {path}: expected [[link]] tables and a [stale_s] table")
    for i, t in enumerate(tables):
        where = f"bench file {path}: link[{i}]"
        bad = set(t) - known
        if bad:
            raise BenchFileError(f"{where}: unknown keys {sorted(bad)}; known: {sorted(known)}")
        if "devices" not in t or "port" not in t:
            raise BenchFileError(f"{where}: needs 'port' and 'devices'")
        if not isinstance(t["port"], str) or not isinstance(t["devices"], list):
            raise BenchFileError(f"{where}: expected port = \"URL\" and devices = [names], got {t['port']!r}, "
                                 f"{t['devices']!r}")
        for dev in t["devices"]:
            if dev not in SENSORS and dev not in ACTUATORS:
                raise BenchFileError(f"{where}: devices: {dev!r} is not a device packet; known: "
                                     f"{SENSORS + ACTUATORS}")
            if dev in seen:
                raise BenchFileError(f"{where}: devices: {dev} is already on link {seen[dev]}")
            seen[dev] = i
        stale = {**defaults_stale, **t.get("stale_s", {})}
        for dev in stale:
            if dev not in SENSORS:
                raise BenchFileError(f"{where}: stale_s.{dev}: not a sensor; sensors: {SENSORS}")
            _bench_number(stale, dev, None, f"{where}: stale_s", float)
        links.append(LinkConfig(str(t.get("name", f"link{i}")), t["port"], tuple(t["devices"]),
                                _bench_number(t, "baud", 115200, where, int),
                                _bench_number(t, "reopen_s", 0.5, where), stale,
                                _bench_number(t, "lockstep_timeout_s", 2.0, where),
                                _bench_number(t, "lockstep_retry_s", 0.02, where)))
    missing = [d for d in SENSORS + ACTUATORS if d not in seen]
    if not links or missing:
        raise BenchFileError(f"bench file {path}: devices on no link: {missing or 'all'}")
    if url is not None:
        links[0] = LinkConfig(**{**links[0].__dict__, "url": url})
    return links


# ---------------------------------------------------------------------------------------------------
# the flight side


class SerialBackend(Hal):
    """HAL backend over serial links; see the module docstring.

    Parameters
    ----------
    links : list[LinkConfig]
        From :func:`load_bench_file`.
    minor_frame_ns : int
        [ns] minor frame (lockstep frame numbers are ``t_ns // minor_frame_ns``).
    lockstep : bool
        Tick the far end once per frame and wait for its end-of-frame marker.
    opener : callable, optional
        Passed to every :class:`SerialLink`.
    record : callable, optional
        ``record(packet)`` for every device packet accepted (tests compare them with what was sent).
    """

    def __init__(self, links: list[LinkConfig], minor_frame_ns: int, *, lockstep: bool = False, opener=None,
                 record=None):
        self.sensors = {n: new_record(n) for n in SENSORS}
        self.actuators = {n: new_record(n) for n in ACTUATORS}
        self.minor_frame_ns = int(minor_frame_ns)
        self.lockstep = bool(lockstep)
        self.configs = list(links)
        self.links = [SerialLink(c.url, c.baud, link_id=i, opener=opener, reopen_s=c.reopen_s, name=c.name)
                      for i, c in enumerate(self.configs)]
        self._record = record
        self._route = {}   # apid -> (sensor index, record, unpack_into)
        self._stale_ns = np.full(len(SENSORS), np.iinfo(np.int64).max, dtype=np.int64)
        self._sensor_link = np.zeros(len(SENSORS), dtype=np.int64)
        self._out = []     # per link: (actuator name, record, codec, apid)
        for li, c in enumerate(self.configs):
            out = []
            for dev in c.devices:
                codec = tm_codec(dev)
                if dev in SENSORS:
                    i = SENSORS.index(dev)
                    self._route[codec.apid] = (i, self.sensors[dev], codec.unpack_into)
                    self._sensor_link[i] = li
                    if dev in c.stale_s:
                        self._stale_ns[i] = int(round(c.stale_s[dev] * 1e9))
                else:
                    out.append((dev, self.actuators[dev], codec, codec.apid))
            self._out.append(out)
        self._sent_seq = {n: 0 for n in ACTUATORS}
        self._last_rx_ns = np.zeros(len(SENSORS), dtype=np.int64)
        self.stale_mask = 0
        self.stale_frames = np.zeros(len(SENSORS), dtype=np.int64)  # frames each sensor spent stale
        self.peer_ended = False
        self.device_packets_rx = 0   # device packets accepted into their records (a run with none flew blind)
        self._echo = [-1] * len(self.links)
        self._degraded = [False] * len(self.links)
        self._tick = tm_codec(TICK)
        self.link_stats = [np.zeros((), dtype=record_dtype("LINK_STATS")) for _ in self.links]
        for i, rec in enumerate(self.link_stats):
            rec["link_id"] = i

    # ------------------------------------------------------------------ start-up
    def connect(self, timeout_s: float = 30.0) -> None:
        """Open every link and, when the far end plays BENCH_TICK, shake hands (tick 0 answered).

        Raises :class:`PortError` at once for a port that cannot be opened, and when the connect
        timeout ``timeout_s`` expires, naming the links that did not answer.
        """
        if not timeout_s > 0:
            raise PortError(f"connect timeout must be > 0 s, got {timeout_s}")
        for link in self.links:
            link.open_now()
        deadline = timebase.monotonic_s() + timeout_s
        waiting = set(range(len(self.links)))
        next_try = 0.0
        while waiting:
            now = timebase.monotonic_s()
            if now > deadline:
                names = ", ".join(f"{self.links[i].name} ({self.links[i].url})" for i in sorted(waiting))
                raise PortError(f"no answer to the BENCH_TICK(0) handshake within the {timeout_s:g} s connect "
                                f"timeout on {names}: is qz bench-device or the device running on the far end? "
                                f"(--no-handshake for a device that does not play BENCH_TICK)")
            if now >= next_try:
                for i in waiting:
                    self._send_tick(i, 0)
                next_try = now + 0.2
            for i in list(waiting):
                for pkt in self.links[i].receive(block_s=0.01):
                    if peek_apid(pkt) == TICK_APID and self._tick_frame(pkt) == 0:
                        waiting.discard(i)
        for link in self.links:   # the handshake's packets are not part of the run
            link.rx_seq.reset()

    def _tick_frame(self, pkt: bytes) -> int:
        try:
            return int(self._tick.unpack(pkt)[2][0])
        except PacketError:
            return -1

    def _send_tick(self, li: int, n: int) -> None:
        link = self.links[li]
        link.send(self._tick.pack(link.next_seq(TICK_APID), 0, (n,)))
        link.drain()

    # ------------------------------------------------------------------ per frame
    def poll(self, t_ns: int) -> None:
        """Bring in the sensor packets that arrived (lockstep: wait for the end-of-frame marker)."""
        n = t_ns // self.minor_frame_ns
        for li, link in enumerate(self.links):
            if not self.lockstep:
                self._dispatch(link, link.receive(), t_ns, li)
                continue
            cfg = self.configs[li]
            self._send_tick(li, n)
            now = timebase.monotonic_s()
            # a lost tick or marker is re-asked every retry period; the far end answers a repeat without stepping
            deadline = now + (cfg.lockstep_retry_s if self._degraded[li] else cfg.lockstep_timeout_s)
            resend = now + cfg.lockstep_retry_s
            while self._echo[li] < n and not self.peer_ended:
                now = timebase.monotonic_s()
                if now >= deadline:
                    link.stats.tick_timeouts += 1
                    self._degraded[li] = True
                    break
                if now >= resend:
                    self._send_tick(li, n)
                    resend = now + cfg.lockstep_retry_s
                self._dispatch(link, link.receive(block_s=min(deadline, resend) - now), t_ns, li)
            else:
                self._degraded[li] = False
        self._update_stale(t_ns)

    def _dispatch(self, link: SerialLink, packets: list[bytes], t_ns: int, li: int) -> None:
        route = self._route
        for pkt in packets:
            link.track(pkt)
            apid = peek_apid(pkt)
            dest = route.get(apid)
            if dest is not None:
                i, rec, unpack_into = dest
                try:
                    unpack_into(pkt, rec)
                except PacketError:
                    link.stats.rejected += 1
                    continue
                self._last_rx_ns[i] = t_ns
                self.device_packets_rx += 1
                if self._record is not None:
                    self._record(pkt)
            elif apid == TICK_APID:
                f = self._tick_frame(pkt)
                if f == END_OF_RUN:
                    self.peer_ended = True
                elif f > self._echo[li]:
                    self._echo[li] = f
            else:
                link.stats.rejected += 1

    def _update_stale(self, t_ns: int) -> None:
        stale = (t_ns - self._last_rx_ns) > self._stale_ns
        self.stale_frames += stale
        mask = 0
        for i in np.flatnonzero(stale):
            mask |= 1 << int(i)
        self.stale_mask = mask

    def flush(self, t_ns: int) -> None:
        """Send the actuator records whose ``seq`` advanced this frame."""
        sent = self._sent_seq
        for li, out in enumerate(self._out):
            link = self.links[li]
            for name, rec, codec, apid in out:
                seq = int(rec["seq"])
                if seq != sent[name]:
                    sent[name] = seq
                    link.send(codec.pack_record(link.next_seq(apid), int(rec["t_ns"]), rec))
            link.drain()

    # ------------------------------------------------------------------ telemetry and shutdown
    def update_link_stats(self) -> list[np.ndarray]:
        """The LINK_STATS records of every link, brought up to date (the runner downlinks them)."""
        for link, rec in zip(self.links, self.link_stats, strict=True):
            st = link.stats
            rec["bytes_rx"], rec["bytes_tx"] = st.bytes_rx & 0xFFFFFFFF, st.bytes_tx & 0xFFFFFFFF
            rec["frames_rx"], rec["frames_tx"] = st.frames_rx, st.frames_tx
            rec["crc_errors"], rec["gaps"], rec["resyncs"] = st.crc_errors, st.gaps, st.resyncs
            rec["reconnects"] = st.reconnects
            mask = 0
            for i in range(len(SENSORS)):
                if self._sensor_link[i] == link.link_id and self.stale_mask >> i & 1:
                    mask |= 1 << i
            rec["stale_mask"] = mask
            rec["seq"] += 1
        return self.link_stats

    def summary(self) -> dict:
        """Link statistics for summary.json."""
        return {
            "lockstep": self.lockstep,
            "device_packets_rx": self.device_packets_rx,
            "links": [{"name": link.name, "url": link.url, **link.stats.as_dict()} for link in self.links],
            "stale_frames": {dev: int(self.stale_frames[i]) for i, dev in enumerate(SENSORS)},
        }

    def close(self) -> None:
        """Tell the far end the run ended, then close every port."""
        for li, link in enumerate(self.links):
            if link.connected:
                self._send_tick(li, END_OF_RUN)
                deadline = timebase.monotonic_s() + 0.5
                while link.drain() and timebase.monotonic_s() < deadline:
                    time.sleep(0.001)
            link.close()


def stale_devices(mask: int) -> list[str]:
    """Names of the sensors whose bit is set in a stale mask."""
    return [dev for i, dev in enumerate(SENSORS) if mask >> i & 1]

