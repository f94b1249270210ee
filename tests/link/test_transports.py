"""The ground link's transports (hal.ground_link) on real loopback sockets and pyserial's loop://."""

from __future__ import annotations

import csv
import socket
import threading
import time

import numpy as np
import pytest

from ground.cli import main
from hal.ground_link import LinkUrlError, SerialGroundLink, TcpServer, UdpLink, is_loopback, open_transport
from telemetry.codec import tm_codec
from telemetry.dictionary import record_dtype
from telemetry.framing import frame


def _service_until(transport, predicate, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    seen = ([], [], [])
    while time.monotonic() < deadline:
        for acc, got in zip(seen, transport.service(4096), strict=True):
            acc.extend(got)
        if predicate(seen):
            return seen
        time.sleep(0.005)
    raise AssertionError(f"transport did not deliver in {timeout_s} s: {seen}")


def test_tcp_server_accepts_reads_writes_and_sees_a_client_leave():
    server = TcpServer("127.0.0.1", 0)
    try:
        client = socket.create_connection(("127.0.0.1", server.port))
        client.sendall(b"hello")
        opened, _, data = _service_until(server, lambda s: s[0] and s[2])
        cid, peer, loopback = opened[0]
        assert loopback and peer.startswith("127.0.0.1:") and data == [(cid, b"hello", True)]
        assert server.write(cid, b"telemetry") == 9
        assert client.recv(100) == b"telemetry"
        client.close()
        _, closed, _ = _service_until(server, lambda s: s[1])
        assert closed == [cid] and server.write(cid, b"x") == -1
    finally:
        server.close()


def test_udp_link_receives_datagrams_and_sends_telemetry_to_its_destination():
    tm = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tm.bind(("127.0.0.1", 0))
    tm.settimeout(5)
    link = UdpLink("127.0.0.1", 0, ("127.0.0.1", tm.getsockname()[1]))
    try:
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.sendto(b"one", ("127.0.0.1", link.port))
        sender.sendto(b"two", ("127.0.0.1", link.port))
        opened, _, data = _service_until(link, lambda s: len(s[2]) == 2)
        assert opened == [(0, f"127.0.0.1:{tm.getsockname()[1]}", True)]
        assert [d for _, d, _ in data] == [b"one", b"two"] and all(lb for _, _, lb in data)
        assert link.write(0, b"packet") == 6 and tm.recv(100) == b"packet"
        sender.close()
    finally:
        link.close()
        tm.close()


def test_serial_link_over_pyserial_loop():
    link = SerialGroundLink("loop://")
    try:
        opened, _, _ = link.service(4096)
        assert opened == [(1, "loop://", True)]
        assert link.write(1, b"frame bytes") == 11
        _, _, data = _service_until(link, lambda s: s[2])
        assert data == [(1, b"frame bytes", True)]
    finally:
        link.close()


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                            ("0.0.0.0", False), ("10.1.2.3", False), ("::ffff:127.0.0.1", True)])
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback


def test_a_serial_device_is_not_loopback_but_a_local_socket_url_is():
    from hal.ground_link import serial_url_is_loopback

    assert not serial_url_is_loopback("/dev/ttyUSB1")
    assert serial_url_is_loopback("socket://127.0.0.1:7000")
    assert not serial_url_is_loopback("rfc2217://10.0.0.5:7000")


def test_tm_dest_belongs_to_udp_only():
    with pytest.raises(LinkUrlError, match="udp"):
        open_transport("tcp://127.0.0.1:0", tm_dest="127.0.0.1:9")


def test_tlm_listen_decodes_filters_and_writes_csv(tmp_path, capsys):
    """qz tlm listen against a stand-in flight that sends three NAV_STATE and one HK_STATUS, then closes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    nav, hk = tm_codec("NAV_STATE"), tm_codec("HK_STATUS")
    rec = np.zeros((), record_dtype("NAV_STATE"))
    packets = []
    for i in range(3):
        rec["r_LVLH_m"] = (0.0, -400.0 + i, 0.0)
        rec["sensor"] = 2
        packets.append(nav.pack_record(i, i * 1_000_000_000, rec))
    packets.append(hk.pack_record(0, 0, np.zeros((), record_dtype("HK_STATUS"))))

    def flight():
        conn, _ = server.accept()
        conn.sendall(b"".join(frame(p) for p in packets))
        conn.close()

    t = threading.Thread(target=flight, daemon=True)
    t.start()
    out_csv, record = tmp_path / "nav.csv", tmp_path / "rec.ccsds"
    rc = main(["tlm", "listen", "--link", f"tcp://127.0.0.1:{server.getsockname()[1]}", "--apid", "NAV_STATE",
               "--csv", str(out_csv), "--record", str(record), "--duration", "10"])
    t.join(5)
    server.close()
    lines = capsys.readouterr().out.splitlines()
    assert rc == 0 and len(lines) == 3 and all(" NAV_STATE " in line and "sensor=LIDAR" in line for line in lines)
    rows = list(csv.reader(out_csv.open()))
    assert rows[0][:5] == ["t_s", "seq", "r_LVLH_m[0]", "r_LVLH_m[1]", "r_LVLH_m[2]"]
    assert [float(r[3]) for r in rows[1:]] == [-400.0, -399.0, -398.0]
    assert record.read_bytes() == b"".join(frame(p) for p in packets)  # every packet, as telemetry.ccsds
