"""Bench device emulator: the truth simulation playing every device on the far end of a serial link.

``BenchDevice`` steps ``sims.truth.Truth`` and, after each step, sends the sensor packets whose
record ``seq`` advanced (so each sensor goes out at its own rate); actuator packets it receives
(``ACT_THRUSTERS``, ``ACT_HEATERS``) are decoded straight into the truth's actuator records, which the
truth reads at its next step. Two pacings:

- lockstep: ``BENCH_TICK(frame=n)`` from the flight side means "frame n starts": the emulator steps
  the truth up to frame n (one step per tick; more only after lost ticks), sends the samples, then
  echoes ``BENCH_TICK(n)`` as the end-of-frame marker (the handshake of ``hal.serial_link``).
  ``BENCH_TICK(0)`` is the start-up handshake and steps nothing;
- real time: its own ``WallClock``, one step per minor frame, from the handshake on.

Line emulation (``LineFaults``, seeded): baud-rate pacing, bit errors at a rate, dropped bytes, a
delay, a silent line (``disconnect``: every byte both ways lost) and a hang-up (the port closes and
reappears, for ``pty://`` a new pseudo-terminal behind the same link path). Faults apply to both
directions; bytes the emulator sends are faulted one frame at a time so corrupted frames are counted.

``pty://PATH`` as the port creates a pseudo-terminal pair, plays the devices on its master side and
publishes the slave's device name as the symlink ``PATH`` (what socat's ``link=`` does); the flight
side opens ``PATH`` as an ordinary serial port.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import struct
import termios
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import serial

from fsw.executive.clock import WallClock, perf_ns
from hal.devices import ACTUATORS, SENSORS
from hal.serial_link import END_OF_RUN, TICK, TICK_APID, LinkConfig, PortError, SerialLink, load_bench_file, open_url
from sims.scenario import load_scenario
from sims.truth import Truth
from telemetry.archive import ArchiveWriter
from telemetry.codec import PacketError, peek_apid, tm_codec
from telemetry.errors import InputError
from telemetry.units import NS_PER_S

log = logging.getLogger(__name__)
POST_CAPTURE_S = 10.0        # [s] mission time the run goes on after a capture (as sims.runner)
REALTIME_END_GRACE_S = 5.0  # [s] real time: how long past its duration the emulator waits for the flight's end
RESULT_FILE = "bench_truth.json"
PTY_SCHEME = "pty://"


# ---------------------------------------------------------------------------------------------------
# line emulation


@dataclass
class LineFaults:
    """What the emulated line does to the bytes; times are [s] since the link came up (wall clock)."""

    baud: int = 0                    # [bit/s] pace sent bytes at baud/10 B/s (8N1); 0: as fast as the port takes
    bit_error_rate: float = 0.0      # probability that a bit is flipped
    drop_rate: float = 0.0           # probability that a byte is lost
    delay_s: float = 0.0             # [s] added to every byte sent
    disconnect_at_s: float = -1.0    # [s] the line goes silent at this time (negative: never) ...
    disconnect_s: float = 0.0        # [s] ... for this long
    hangup_at_s: float = -1.0        # [s] the port closes at this time (negative: never) ...
    hangup_s: float = 0.0            # [s] ... and reappears this much later
    seed: int = 0

    def __post_init__(self):
        for name in ("bit_error_rate", "drop_rate"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise InputError(f"line faults: {name} must be in [0, 1), got {getattr(self, name)}")
        for name in ("delay_s", "disconnect_s", "hangup_s", "baud"):
            if getattr(self, name) < 0:
                raise InputError(f"line faults: {name} must be >= 0, got {getattr(self, name)}")

    def silent(self, t_s: float) -> bool:
        return self.disconnect_at_s >= 0 and self.disconnect_at_s <= t_s < self.disconnect_at_s + self.disconnect_s

    def hung_up(self, t_s: float) -> bool:
        return self.hangup_at_s >= 0 and self.hangup_at_s <= t_s < self.hangup_at_s + self.hangup_s


@dataclass
class LineCounters:
    """What the line emulation did (the ground truth the receiving side's counters are checked against)."""

    frames_sent: int = 0             # frames handed to the line
    frames_corrupted: int = 0        # frames sent with a flipped bit or a lost byte
    frames_lost: int = 0             # frames lost whole (silent line)
    bits_flipped_tx: int = 0
    bytes_dropped_tx: int = 0
    bits_flipped_rx: int = 0
    bytes_dropped_rx: int = 0
    bytes_lost_rx: int = 0           # bytes received while the line was silent
    hangups: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class LineEmulator:
    """Applies ``LineFaults`` to byte chunks with seeded generators (one per direction)."""

    def __init__(self, faults: LineFaults, now_s=None):
        self.faults = faults
        tx_seed, rx_seed = np.random.SeedSequence(faults.seed).spawn(2)
        self._tx_rng = np.random.default_rng(tx_seed)
        self._rx_rng = np.random.default_rng(rx_seed)
        self._t0 = perf_ns()
        self._now_s = now_s
        self.counters = LineCounters()

    def now_s(self) -> float:
        """[s] since the link came up (the handshake)."""
        return self._now_s() if self._now_s is not None else (perf_ns() - self._t0) / NS_PER_S

    def restart_clock(self) -> None:
        self._t0 = perf_ns()

    @staticmethod
    def _corrupt(data: bytes, ber: float, drop: float, rng) -> tuple[bytes, int, int]:
        flips = int(rng.binomial(8 * len(data), ber)) if ber > 0 else 0
        drops = int(rng.binomial(len(data), drop)) if drop > 0 else 0
        if not flips and not drops:
            return data, 0, 0
        buf = bytearray(data)
        for bit in rng.integers(0, 8 * len(buf), flips):
            buf[bit >> 3] ^= 1 << (bit & 7)
        if drops:
            keep = np.ones(len(buf), dtype=bool)
            keep[rng.choice(len(buf), drops, replace=False)] = False
            buf = bytearray(np.frombuffer(bytes(buf), dtype=np.uint8)[keep].tobytes())
        return bytes(buf), flips, drops

    def outgoing(self, frame_bytes: bytes) -> bytes | None:
        """One frame on its way out: the bytes that reach the wire, None when the line swallows it."""
        f, c = self.faults, self.counters
        c.frames_sent += 1
        if f.silent(self.now_s()):
            c.frames_lost += 1
            return None
        out, flips, drops = self._corrupt(frame_bytes, f.bit_error_rate, f.drop_rate, self._tx_rng)
        if flips or drops:
            c.frames_corrupted += 1
            c.bits_flipped_tx += flips
            c.bytes_dropped_tx += drops
        return out

    def incoming(self, data: bytes) -> bytes:
        """Bytes read from the wire, as the line delivered them."""
        f, c = self.faults, self.counters
        if f.silent(self.now_s()):
            c.bytes_lost_rx += len(data)
            return b""
        out, flips, drops = self._corrupt(data, f.bit_error_rate, f.drop_rate, self._rx_rng)
        c.bits_flipped_rx += flips
        c.bytes_dropped_rx += drops
        return out


class FaultyPort:
    """A port seen through a ``LineEmulator``: faults, delay and baud pacing on write, faults on read.

    ``write`` accepts every frame (the line holds what is delayed or paced); :meth:`pump` hands due
    bytes to the real port and must be called regularly.
    """

    def __init__(self, port, line: LineEmulator):
        self.port = port
        self.line = line
        self._held: list[tuple[float, bytes]] = []   # (release time [s], bytes)
        self._out = bytearray()                      # due bytes the port has not taken yet
        self._credit = 0.0                           # [B] baud pacing allowance
        self._t_credit = line.now_s()

    @property
    def pending(self) -> int:
        return len(self._out) + sum(len(b) for _, b in self._held)

    def fileno(self) -> int:
        return self.port.fileno()

    @property
    def in_waiting(self) -> int:
        return self.port.in_waiting

    def read(self, n: int) -> bytes:
        data = self.port.read(n)
        return self.line.incoming(data) if data else data

    def write(self, data) -> int:
        out = self.line.outgoing(bytes(data))
        if out:
            self._held.append((self.line.now_s() + self.line.faults.delay_s, out))
        self.pump()
        return len(data)

    def pump(self) -> None:
        now = self.line.now_s()
        while self._held and self._held[0][0] <= now:
            self._out += self._held.pop(0)[1]
        if not self._out:
            self._t_credit = now
            self._credit = 0.0
            return
        n = len(self._out)
        baud = self.line.faults.baud
        if baud:
            self._credit = min(self._credit + (now - self._t_credit) * baud / 10.0, 4096.0)
            self._t_credit = now
            n = min(n, int(self._credit))
            if n <= 0:
                return
        try:
            written = self.port.write(bytes(self._out[:n]))
        except BlockingIOError:
            written = 0
        written = n if written is None else written
        if baud:
            self._credit -= written
        del self._out[:written]

    def close(self) -> None:
        self.port.close()


class PtyPort:
    """Master side of a new pseudo-terminal pair; the slave's name is published as a symlink.

    The slave is put in raw mode and kept open here so that the pair lives (and reads on the master
    never fail) whether or not the flight side has it open.
    """

    def __init__(self, link_path: str | Path):
        self.link_path = Path(link_path)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.slave_name = os.ttyname(self._slave)
        self.link_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.link_path.with_name(self.link_path.name + ".new")
        tmp.unlink(missing_ok=True)
        os.symlink(self.slave_name, tmp)
        os.replace(tmp, self.link_path)
        self.is_open = True

    def fileno(self) -> int:
        return self._master

    @property
    def in_waiting(self) -> int:
        return struct.unpack("I", fcntl.ioctl(self._master, termios.FIONREAD, b"\0\0\0\0"))[0]

    def read(self, n: int) -> bytes:
        try:
            return os.read(self._master, n)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise serial.SerialException(f"pty read failed: {exc}") from exc

    def write(self, data) -> int:
        try:
            return os.write(self._master, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            raise serial.SerialException(f"pty write failed: {exc}") from exc

    def close(self) -> None:
        if self.is_open:
            self.is_open = False
            if self.link_path.is_symlink() and os.readlink(self.link_path) == self.slave_name:
                self.link_path.unlink()
            os.close(self._master)
            os.close(self._slave)


def make_opener(faults: LineFaults | None, line: LineEmulator | None = None):
    """``opener(url, baud)`` for :class:`SerialLink`: pty:// or any pyserial URL, behind the line emulation."""

    def opener(url: str, baud: int):
        if line is not None and line.faults.hung_up(line.now_s()):
            raise OSError("emulated hang-up: the port is gone")
        port = PtyPort(url[len(PTY_SCHEME):]) if url.startswith(PTY_SCHEME) else open_url(url, baud)
        return FaultyPort(port, line) if line is not None else port

    return opener


# ---------------------------------------------------------------------------------------------------
# the emulator


@dataclass
class BenchResult:
    """How the emulated run ended."""

    stop_reason: str = "running"
    frames: int = 0
    extra: dict = field(default_factory=dict)


class BenchDevice:
    """Truth simulation + device emulation on one serial link; see the module docstring.

    Parameters
    ----------
    scenario : str or Path
        Scenario name or file.
    link : LinkConfig
        The link to play (its ``devices`` are the ones emulated).
    seed : int, optional
        Truth seed (default: the scenario's).
    lockstep : bool
        Step on BENCH_TICK (else real time).
    faults : LineFaults, optional
        Line emulation; ``None`` for a clean line.
    duration_s : float, optional
        [s] mission time after which the emulator ends the run (default: the scenario's).
    out : str or Path, optional
        Folder for ``bench_truth.json`` (and ``bench_tx.ccsds`` when ``record``).
    """

    def __init__(self, scenario, link: LinkConfig, *, seed: int | None = None, lockstep: bool = True,
                 faults: LineFaults | None = None, duration_s: float | None = None, out=None, record: bool = False):
        self.sc = load_scenario(scenario)
        self.seed = self.sc.seed if seed is None else int(seed)
        self.truth = Truth(self.sc, seed=self.seed)
        self.lockstep = lockstep
        self.faults = faults
        self.line = LineEmulator(faults) if faults is not None else None
        self.config = link
        self.link = SerialLink(link.url, link.baud, opener=make_opener(faults, self.line), reopen_s=0.1,
                               name=f"bench {link.name}")
        self.frame_ns = int(self.sc.minor_frame_ns)
        self.frames_per_s = NS_PER_S // self.frame_ns
        self.duration_s = self.sc.duration_s if duration_s is None else float(duration_s)
        self.out = Path(out) if out is not None else None
        self._archive = ArchiveWriter(self.out / "bench_tx.ccsds") if (record and self.out) else None
        self.frame = 0               # truth frames stepped
        self.result = BenchResult()
        self._capture_end_s = None
        self._sensors = [(dev, self.truth.devices[dev], tm_codec(dev)) for dev in SENSORS if dev in link.devices]
        self._sent = {dev: int(self.truth.devices[dev]["seq"]) for dev, _, _ in self._sensors}
        self._act = {tm_codec(dev).apid: (self.truth.devices[dev], tm_codec(dev).unpack_into)
                     for dev in ACTUATORS if dev in link.devices}
        self._tick = tm_codec(TICK)
        self._started = False
        self._last_tick = -1
        self._hung_up = False
        self.ticks = 0

    # ------------------------------------------------------------------ protocol
    def _send_tick(self, n: int) -> None:
        self.link.send(self._tick.pack(self.link.next_seq(TICK_APID), 0, (n,)))

    def _answer(self) -> None:
        """Send every sample written since the last answer, in device order."""
        link = self.link
        for dev, rec, codec in self._sensors:
            seq = int(rec["seq"])
            if seq != self._sent[dev]:
                self._sent[dev] = seq
                pkt = codec.pack_record(link.next_seq(codec.apid), int(rec["t_ns"]), rec)
                link.send(pkt)
                if self._archive is not None:
                    self._archive.write(pkt)

    def _step(self) -> None:
        self.truth.step()
        self.frame += 1
        if self.frame % self.frames_per_s == 0:
            self._check_end()

    def _check_end(self) -> None:
        """Once per mission second, as ``sims.runner.run_sil`` does."""
        second = self.frame // self.frames_per_s
        truth = self.truth
        if truth.collided:
            self._end("collision")
        elif truth.contact is not None and not truth.contact.captured:
            self._end("failed docking contact")
        elif truth.contact is not None:
            self._capture_end_s = self._capture_end_s or second + POST_CAPTURE_S
            if second >= self._capture_end_s:
                self._end("docked")
        # real time: the flight's clock decides when the run ends (its end marker); the emulator's own clock,
        # started at the same handshake, may run a frame ahead of a loaded flight, so it waits a grace period
        end_s = self.duration_s + (0.0 if self.lockstep else REALTIME_END_GRACE_S)
        if second >= end_s and self.result.stop_reason == "running":
            self._end("duration")

    def _end(self, reason: str) -> None:
        if self.result.stop_reason == "running":
            self.result.stop_reason = reason
            self._send_tick(END_OF_RUN)

    def _on_packet(self, pkt: bytes) -> None:
        self.link.track(pkt)
        apid = peek_apid(pkt)
        act = self._act.get(apid)
        if act is not None:
            try:
                act[1](pkt, act[0])
            except PacketError:
                self.link.stats.rejected += 1
            return
        if apid != TICK_APID:
            self.link.stats.rejected += 1
            return
        try:
            n = int(self._tick.unpack(pkt)[2][0])
        except PacketError:
            self.link.stats.rejected += 1
            return
        if n == END_OF_RUN:
            if self.result.stop_reason == "running":
                if self.lockstep and self.frame == self._last_tick:
                    # the flight's last frame sent its actuators: step it, as SIL's post_frame does
                    self.truth.step()
                    self.frame += 1
                self.result.stop_reason = "flight ended the run"
            return
        self.ticks += 1
        self._last_tick = max(self._last_tick, n)
        if n == 0 and not self._started:
            self._started = True
            if self.line is not None:
                self.line.restart_clock()   # fault times count from the handshake
        if self.lockstep:
            while self.frame < n and self.result.stop_reason == "running":
                self._step()
            self._answer()
            self._send_tick(n)
        elif n == 0:
            self._send_tick(0)

    # ------------------------------------------------------------------ running
    def _service(self, block_s: float) -> None:
        port = self.link._port
        if isinstance(port, FaultyPort):
            port.pump()
            if port.pending:
                block_s = min(block_s, 0.0005)
        for pkt in self.link.receive(block_s=block_s):
            self._on_packet(pkt)
        self.link.drain()
        if self.line is not None:
            hung = self.faults.hung_up(self.line.now_s())
            if hung and not self._hung_up and self.link.connected:
                self.line.counters.hangups += 1
                self.link.hang_up()
            self._hung_up = hung

    def run(self, idle_timeout_s: float = 60.0) -> BenchResult:
        """Play the devices until the run ends (the flight's end marker, the truth's own end, or idle).

        Raises :class:`PortError` at once when the port cannot be opened.
        """
        self.link.open_now()
        wall0 = time.perf_counter()
        last_rx = time.perf_counter()
        try:
            if self.lockstep:
                while self.result.stop_reason == "running":
                    ticks = self.ticks
                    self._service(0.05)
                    now = time.perf_counter()
                    if self.ticks != ticks:
                        last_rx = now
                    elif now - last_rx > idle_timeout_s:
                        self.result.stop_reason = "idle: no tick from the flight side"
            else:
                while not self._started and time.perf_counter() - last_rx < idle_timeout_s:
                    self._service(0.05)
                if not self._started:
                    self.result.stop_reason = "idle: no handshake from the flight side"
                # sleep-only: the emulator's jitter is far below a frame, and spinning would take the CPU the
                # flight's executive needs for its own frame starts
                clock = WallClock(self.frame_ns, spin_ns=0)
                while self.result.stop_reason == "running":
                    clock.wait_next()
                    self._service(0.0)
                    if self.result.stop_reason != "running":
                        break
                    self._step()
                    self._answer()
                    self.link.drain()
            # let the end marker and the last frames out
            deadline = time.perf_counter() + 0.5
            while time.perf_counter() < deadline:
                port = self.link._port
                pending = port.pending if isinstance(port, FaultyPort) else 0
                if isinstance(port, FaultyPort):
                    port.pump()
                if not self.link.drain() and not pending:
                    break
                time.sleep(0.001)
        finally:
            self.result.frames = self.frame
            self.result.extra["wall_time_s"] = time.perf_counter() - wall0
            self.write_result()
            if self._archive is not None:
                self._archive.close()
            self.link.close()
        return self.result

    # ------------------------------------------------------------------ result
    def summary(self) -> dict:
        truth = self.truth
        r, v = truth.relative_state()
        contact = truth.contact
        docking = {"captured": bool(contact is not None and contact.captured), "contact": contact is not None,
                   "collided": bool(truth.collided), "propellant_used_kg": float(truth.propellant_used_kg)}
        if contact is not None:
            docking.update(contact.as_dict())
        mission_s = self.frame * self.frame_ns / NS_PER_S
        wall = self.result.extra.get("wall_time_s", 0.0)
        return {
            "scenario": self.sc.name,
            "seed": self.seed,
            "pacing": "lockstep" if self.lockstep else "real time",
            "stop_reason": self.result.stop_reason,
            "frames": self.frame,
            "mission_time_s": mission_s,
            "wall_time_s": wall,
            "speed_factor": mission_s / wall if wall > 0 else None,
            "docking": docking,
            "final_relative_state": {"r_LVLH_m": [float(x) for x in r], "v_LVLH_mps": [float(x) for x in v]},
            "link": {"url": self.link.url, **self.link.stats.as_dict()},
            "line_faults": self.faults.__dict__ if self.faults is not None else None,
            "line": self.line.counters.as_dict() if self.line is not None else None,
        }

    def write_result(self) -> Path | None:
        if self.out is None:
            return None
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / RESULT_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.summary(), indent=2, default=_json_default) + "\n")
        os.replace(tmp, path)
        return path


def _json_default(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def run_bench_device(port: str, scenario, *, lockstep: bool = True, seed: int | None = None,
                     faults: LineFaults | None = None, out=None, duration_s: float | None = None,
                     bench_file=None, record: bool = False, idle_timeout_s: float = 60.0) -> dict:
    """``qz bench-device``: play the first link of the bench file on ``port``; return the result summary."""
    if not idle_timeout_s > 0:
        raise PortError(f"idle timeout must be > 0 s, got {idle_timeout_s}")
    link = load_bench_file(bench_file, url=port)[0]
    dev = BenchDevice(scenario, link, seed=seed, lockstep=lockstep, faults=faults, duration_s=duration_s, out=out,
                      record=record)
    dev.run(idle_timeout_s=idle_timeout_s)
    if not dev._started:
        raise PortError(f"port {port}: no handshake from the flight side within the {idle_timeout_s:g} s idle "
                        f"timeout (is qz hil running against the other end?)")
    return dev.summary()
