"""SerialBackend (the flight side) against a scripted far end on a pseudo-terminal pair."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from hal.devices import ACTUATORS, SENSORS
from hal.serial_link import END_OF_RUN, LinkConfig, SerialBackend, SerialLink, load_bench_file, stale_devices
from sims.bench import PtyPort
from telemetry.codec import tm_codec
from telemetry.framing import frame

FRAME_NS = 10_000_000
GYRO = tm_codec("DEV_GYRO")
THR = tm_codec("ACT_THRUSTERS")
TICK = tm_codec("BENCH_TICK")
ALL = tuple(SENSORS) + tuple(ACTUATORS)


def _config(url: str, **kw) -> LinkConfig:
    return LinkConfig("test", url, ALL, stale_s={"DEV_GYRO": 0.03}, reopen_s=0.05, **kw)


class FarEnd:
    """The device side of a pty pair, driven by the test."""

    def __init__(self, path):
        self.path = path
        self.link = SerialLink(f"pty:{path}", opener=lambda url, baud: PtyPort(path), name="far")
        assert self.link.open(background=False)

    def send(self, packet: bytes) -> None:
        self.link.send(packet)
        while self.link.drain():
            time.sleep(0.0005)

    def collect(self, n: int, timeout_s: float = 2.0) -> list[bytes]:
        out: list[bytes] = []
        deadline = time.perf_counter() + timeout_s
        while len(out) < n and time.perf_counter() < deadline:
            out += self.link.receive(block_s=0.01)
        return out


@pytest.fixture
def bench(tmp_path):
    far = FarEnd(tmp_path / "port")
    backend = SerialBackend([_config(str(tmp_path / "port"), lockstep_timeout_s=0.2, lockstep_retry_s=0.02)],
                            FRAME_NS)
    for link in backend.links:
        assert link.open(background=False)
    yield far, backend
    backend.close()
    far.link.close()


def _poll_until(backend, t_ns: int, cond, timeout_s: float = 2.0) -> None:
    deadline = time.perf_counter() + timeout_s
    while not cond() and time.perf_counter() < deadline:
        backend.poll(t_ns)
        time.sleep(0.001)


def test_sensor_packet_is_decoded_into_its_record_and_seq_advances(bench):
    far, backend = bench
    rec = backend.sensor("DEV_GYRO")
    far.send(GYRO.pack(0, 5 * FRAME_NS, (0.0, 0.0, 0.0, 0.1, 0.2, 0.3, 1)))
    _poll_until(backend, 5 * FRAME_NS, lambda: rec["seq"] == 1)
    assert rec["seq"] == 1
    assert list(rec["omega_BN_B_rad_s"]) == [0.1, 0.2, 0.3]
    assert rec["valid"] == 1


def test_silent_sensor_is_marked_stale_and_its_record_left_untouched(bench):
    far, backend = bench
    rec = backend.sensor("DEV_GYRO")
    far.send(GYRO.pack(0, 0, (0.0, 0.0, 0.0, 0.1, 0.2, 0.3, 1)))
    _poll_until(backend, 0, lambda: rec["seq"] == 1)
    before = rec.copy()
    backend.poll(2 * FRAME_NS)
    assert backend.stale_mask == 0
    backend.poll(4 * FRAME_NS)    # 40 ms of silence > stale_s 30 ms
    assert stale_devices(backend.stale_mask) == ["DEV_GYRO"]
    assert rec.tobytes() == before.tobytes()


def test_stale_bit_clears_when_samples_return(bench):
    far, backend = bench
    backend.poll(10 * FRAME_NS)
    assert backend.stale_mask & 1
    far.send(GYRO.pack(0, 10 * FRAME_NS, (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1)))
    _poll_until(backend, 11 * FRAME_NS, lambda: backend.sensor("DEV_GYRO")["seq"] == 1)
    assert backend.stale_mask & 1 == 0


def test_actuator_packet_goes_out_only_when_its_seq_advances(bench):
    far, backend = bench
    act = backend.actuator("ACT_THRUSTERS")
    backend.flush(0)
    act["on_time_s"][3] = 0.05
    act["seq"] += 1
    backend.flush(FRAME_NS)
    backend.flush(2 * FRAME_NS)
    got = far.collect(1)
    time.sleep(0.05)
    got += far.link.receive()
    assert len(got) == 1
    seq, _, values = THR.unpack(got[0])
    assert seq == 0 and values[3] == pytest.approx(0.05)


def test_lockstep_poll_waits_for_the_end_of_frame_marker(bench):
    far, backend = bench
    backend.lockstep = True

    def emulator():
        tick = far.collect(1)[0]
        n = TICK.unpack(tick)[2][0]
        time.sleep(0.05)
        far.send(GYRO.pack(0, 0, (0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 1)))
        far.send(TICK.pack(0, 0, (n,)))

    t = threading.Thread(target=emulator)
    t.start()
    t0 = time.perf_counter()
    backend.poll(7 * FRAME_NS)
    waited = time.perf_counter() - t0
    t.join()
    assert waited >= 0.04
    assert backend.sensor("DEV_GYRO")["seq"] == 1
    assert backend.links[0].stats.tick_timeouts == 0


def test_lockstep_poll_gives_up_after_its_timeout_and_counts_it(bench):
    _, backend = bench
    backend.lockstep = True
    t0 = time.perf_counter()
    backend.poll(0)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    backend.poll(FRAME_NS)        # far end still silent: only the short retry wait
    second = time.perf_counter() - t0
    assert 0.19 <= first < 0.5
    assert second < 0.1
    assert backend.links[0].stats.tick_timeouts == 2


def test_lockstep_re_asks_a_lost_tick(bench):
    far, backend = bench
    backend.lockstep = True

    def emulator():
        ticks = far.collect(2)       # the first tick is "lost": answered only when asked again
        far.send(TICK.pack(0, 0, (TICK.unpack(ticks[-1])[2][0],)))

    t = threading.Thread(target=emulator)
    t.start()
    backend.poll(3 * FRAME_NS)
    t.join()
    assert backend.links[0].stats.tick_timeouts == 0


def test_end_of_run_from_the_far_end_is_seen(bench):
    far, backend = bench
    far.send(TICK.pack(0, 0, (END_OF_RUN,)))
    _poll_until(backend, 0, lambda: backend.peer_ended)
    assert backend.peer_ended


def test_link_stats_record_carries_the_counters_and_stale_mask(bench):
    far, backend = bench
    far.send(GYRO.pack(0, 0, (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1)))
    far.send(GYRO.pack(3, 0, (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1)))
    _poll_until(backend, 0, lambda: backend.sensor("DEV_GYRO")["seq"] == 2)
    backend.poll(FRAME_NS * 100)
    rec = backend.update_link_stats()[0]
    assert rec["frames_rx"] == 2 and rec["gaps"] == 2
    assert rec["stale_mask"] & 1


def test_port_that_disappears_is_reopened_while_polling_goes_on(tmp_path):
    path = tmp_path / "port"
    far = PtyPort(path)
    backend = SerialBackend([_config(str(path))], FRAME_NS)
    backend.links[0].open()
    try:
        far.close()                                   # the adapter is unplugged
        t0 = time.perf_counter()
        for k in range(20):
            backend.poll(k * FRAME_NS)                # never blocks meanwhile
        assert time.perf_counter() - t0 < 0.5
        assert not backend.links[0].connected
        far = PtyPort(path)                           # ... and plugged in again
        link = SerialLink("far", opener=lambda url, baud: far)
        link.open(background=False)
        deadline = time.perf_counter() + 3.0
        while backend.sensor("DEV_GYRO")["seq"] == 0 and time.perf_counter() < deadline:
            link.send(GYRO.pack(0, 0, (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1)))
            link.drain()
            backend.poll(0)
            time.sleep(0.02)
        assert backend.links[0].stats.reconnects == 1
        assert backend.sensor("DEV_GYRO")["seq"] >= 1
    finally:
        backend.close()
        far.close()


def test_socket_link_reconnects_after_the_server_drops_it():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    link = SerialLink(f"socket://127.0.0.1:{port}", reopen_s=0.05)
    assert link.open(background=False)
    conn, _ = server.accept()
    conn.close()                                      # the far end drops the connection
    deadline = time.perf_counter() + 3.0
    while link.stats.port_errors == 0 and time.perf_counter() < deadline:
        link.receive(block_s=0.01)
    conn, _ = server.accept()                         # the background reopen connects again
    # pyserial's socket handler flushes its input when the port opens: send only once the link has
    # the new port, or the frame may be discarded with the flush
    deadline = time.perf_counter() + 3.0
    while link.stats.reconnects == 0 and time.perf_counter() < deadline:
        link.receive(block_s=0.01)
    conn.sendall(frame(GYRO.pack(0, 0, (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1))))
    got = []
    deadline = time.perf_counter() + 3.0
    while not got and time.perf_counter() < deadline:
        got = link.receive(block_s=0.01)
    assert link.stats.reconnects == 1
    assert got == [GYRO.pack(0, 0, (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1))]
    link.close()
    conn.close()
    server.close()


def test_bench_file_puts_every_device_on_one_link_and_port_overrides_the_first():
    links = load_bench_file(url="loop://x")
    assert links[0].url == "loop://x"
    assert sorted(d for c in links for d in c.devices) == sorted(ALL)


def test_bench_file_refuses_an_unknown_device(tmp_path):
    bad = tmp_path / "b.toml"
    bad.write_text('[[link]]\nport = "loop://"\ndevices = ["DEV_NOPE"]\n')
    with pytest.raises(ValueError, match="DEV_NOPE"):
        load_bench_file(bad)
