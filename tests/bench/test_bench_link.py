"""The ground link's cost (issue 13): serving it per 10 Hz cycle with 0, 1 and 4 clients, and the ``nominal``
SIL speed factor with one client reading the whole downlink (target: still >= 2,000x).

Per cycle: the ground_link task over a real loopback TCP server, with the packets of a busy cycle queued to
each client (the 1 Hz housekeeping burst: eight state packets) and clients that read everything between
cycles (outside the measured call). ``extra_info["task"]`` puts these under the task's budget check.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from fsw.app import Bus
from fsw.apps.commanding import CommandDispatcher
from fsw.apps.ground_link import GroundLink, LinkSetup
from fsw.downlink import Downlink
from fsw.executive.events import EventService
from fsw.topology import load_flight_config
from hal.ground_link import TcpServer
from sims.link import LinkOptions
from sims.runner import run_sil
from telemetry.dictionary import record_dtype

TARGET_SPEED_FACTOR = 2000.0
BURST = ("HK_STATUS", "EXEC_STATUS", "NAV_STATE", "ATT_STATE", "GUIDANCE_STATE", "DOCKING_MONITOR", "PROPULSION",
         "THERMAL_ZONES")
CYCLE_NS = 100_000_000


class _Served:
    def __init__(self, n_clients: int):
        cfg = load_flight_config()
        events = EventService()
        self.downlink = Downlink(lambda p: None)
        commanding = CommandDispatcher("commanding", Bus(), events, self.downlink, cfg["commanding"])
        self.server = TcpServer("127.0.0.1", 0)
        self.app = GroundLink("ground_link", Bus(), events, self.downlink, commanding, cfg["ground_link"],
                              LinkSetup(self.server, {}, {}, None))
        self.downlink.sink = self.app.enqueue
        self.clients = [socket.create_connection(("127.0.0.1", self.server.port)) for _ in range(n_clients)]
        for c in self.clients:
            c.setblocking(False)
        self.records = {name: np.zeros((), record_dtype(name)) for name in BURST}
        self.t_ns = 0
        deadline = time.monotonic() + 5
        while len(self.app.clients) < n_clients and time.monotonic() < deadline:
            self.step()

    def step(self):
        self.app.step(self.t_ns)
        self.t_ns += CYCLE_NS

    def next_cycle(self):
        """Outside the measurement: clients read what they got, a housekeeping burst is queued."""
        for c in self.clients:
            try:
                while c.recv(65536):
                    pass
            except BlockingIOError:
                pass
        for name, rec in self.records.items():
            self.downlink.send_record(name, self.t_ns, rec)
        return (), {}

    def close(self):
        for c in self.clients:
            c.close()
        self.server.close()


@pytest.mark.parametrize("n_clients", [0, 1, 4], ids=["0_clients", "1_client", "4_clients"])
def test_bench_ground_link_cycle(benchmark, n_clients):
    served = _Served(n_clients)
    try:
        benchmark.pedantic(served.step, setup=served.next_cycle, rounds=2000, warmup_rounds=50)
        benchmark.extra_info.update(task="ground_link", clients=n_clients, packets_per_cycle=len(BURST))
        counters = served.app.counters()
        assert counters["clients"] == n_clients and counters["drops"] == 0
    finally:
        served.close()


_READER = """
import socket, sys, time
port = int(sys.argv[1]); total = 0
deadline = time.monotonic() + 120
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port)); break
    except OSError:
        if time.monotonic() > deadline: sys.exit(3)
        time.sleep(0.01)
while True:
    data = s.recv(1 << 20)
    if not data: break
    total += len(data)
print(total)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sil_speed_factor_nominal_with_one_client_reading_everything(benchmark, tmp_path):
    port = _free_port()
    reader = subprocess.Popen([sys.executable, "-c", _READER, str(port)], stdout=subprocess.PIPE, text=True)
    result = {}
    try:
        def fly():
            result["summary"] = run_sil("nominal", tmp_path / "run", progress=False,
                                        link=LinkOptions(f"tcp://127.0.0.1:{port}"))

        benchmark.pedantic(fly, rounds=1, iterations=1)
        read_bytes = int(reader.communicate(timeout=60)[0] or 0)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    s = result["summary"]
    link = s["ground_link"]
    benchmark.extra_info.update(speed_factor=round(s["speed_factor"], 1), target_speed_factor=TARGET_SPEED_FACTOR,
                                packets_out=link["frames_out"], drops=link["drops"], bytes_read=read_bytes)
    print(f"\nnominal with one link client: {s['mission_time_s']:.0f} s mission in {s['wall_time_s']:.2f} s = "
          f"{s['speed_factor']:.0f}x real time; {link['frames_out']} packets out, {link['drops']} dropped")
    assert s["stop_reason"] == "docked"
    assert link["clients_total"] == 1 and link["drops"] == 0 and read_bytes == link["bytes_out"]
    assert s["speed_factor"] >= TARGET_SPEED_FACTOR, f"{s['speed_factor']:.0f}x < {TARGET_SPEED_FACTOR:.0f}x"
