"""The ground-link app against a scripted transport: authentication, counting, queues, never blocking."""

from __future__ import annotations

import pytest

from fsw.app import Bus
from fsw.apps.commanding import CommandDispatcher
from fsw.apps.ground_link import GroundLink, LinkSetup
from fsw.downlink import Downlink
from fsw.executive.events import EventService
from fsw.topology import load_flight_config
from telemetry import sdls
from telemetry.codec import decode_tm, tc_codec
from telemetry.dictionary import REJECT_REASONS
from telemetry.framing import Deframer, frame

KEY = bytes(range(32))
REASON = {name: code for code, name in REJECT_REASONS.items()}
ACCEPTED, REJECTED, COMPLETED = 1, 2, 3
CMD_CFG = {"arm_window_s": 10.0, "uplink_queue_max": 64, "time_tag_queue_max": 4}


class ScriptedTransport:
    """Clients and bytes handed to the app as a real transport would; writes recorded per client."""

    url = "test://"
    loopback = True

    def __init__(self, framed=True):
        self.framed = framed
        self.opened, self.closed, self.data = [], [], []
        self.written: dict[int, bytearray] = {}
        self.accept: dict[int, int] = {}     # cid -> bytes it takes per write (absent: all)
        self.dropped = []

    def connect(self, cid, loopback=True):
        self.opened.append((cid, f"peer{cid}", loopback))
        self.written[cid] = bytearray()

    def send(self, cid, data, loopback=True):
        self.data.append((cid, data, loopback))

    def service(self, rx_bytes):
        out = (self.opened, self.closed, self.data)
        self.opened, self.closed, self.data = [], [], []
        return out

    def write(self, cid, data):
        if cid in self.dropped:
            return -1
        n = min(len(data), self.accept.get(cid, len(data)))
        self.written[cid] += bytes(data[:n])
        return n

    def disconnect(self, cid):
        self.dropped.append(cid)


class Rig:
    def __init__(self, keys=None, last_arsn=None, persist=None, framed=True, **cfg_overrides):
        self.packets = []
        self.events = EventService()
        self.downlink = Downlink(self.packets.append)
        self.commanding = CommandDispatcher("commanding", Bus(), self.events, self.downlink, CMD_CFG)
        cfg = {**load_flight_config()["ground_link"], **cfg_overrides}
        self.transport = ScriptedTransport(framed)
        self.app = GroundLink("ground_link", Bus(), self.events, self.downlink, self.commanding, cfg,
                              LinkSetup(self.transport, keys or {}, last_arsn or {}, persist))
        self.downlink.sink = lambda p: (self.packets.append(p), self.app.enqueue(p))
        self.t_ns = 0

    def cycle(self):
        self.app.step(self.t_ns)
        self.commanding.step(self.t_ns)
        self.t_ns += 100_000_000

    def acks(self):
        out = []
        for p in self.packets:
            name, _, _, values = decode_tm(p)
            if name == "CMD_ACK":
                out.append((values[1], values[2], values[3], values[4]))  # fc, seq, status, reason
        return out


def noop(seq=1):
    return tc_codec("NOOP").pack(seq)


def test_plain_command_from_loopback_without_keys_is_accepted_and_completed():
    rig = Rig()
    rig.transport.connect(1)
    rig.transport.send(1, frame(noop(5)))
    rig.cycle()
    assert rig.acks() == [(0, 5, ACCEPTED, 0), (0, 5, COMPLETED, 0)]


def test_plain_command_off_loopback_without_keys_is_unauthenticated():
    rig = Rig()
    rig.transport.connect(1, loopback=False)
    rig.transport.send(1, frame(noop(5)), loopback=False)
    rig.cycle()
    assert rig.acks() == [(0, 5, REJECTED, REASON["UNAUTHENTICATED"])]
    assert rig.commanding.accepted == 0 and rig.commanding.rejected == 0  # the dispatcher never saw it


@pytest.mark.parametrize("body, reason", [
    (noop(5), "UNAUTHENTICATED"),
    (sdls.wrap(noop(5), 8, 1, KEY), "UNKNOWN_SPI"),
    (sdls.wrap(noop(5), 7, 1, bytes(32)), "BAD_MAC"),
])
def test_with_keys_each_rejection_is_counted_by_reason_before_the_dispatcher(body, reason):
    rig = Rig(keys={7: KEY})
    rig.transport.connect(1)
    rig.transport.send(1, frame(body))
    rig.cycle()
    assert rig.acks() == [(0, 5, REJECTED, REASON[reason])]
    assert rig.app.rejected[reason] == 1
    assert rig.commanding.accepted == rig.commanding.rejected == 0


def test_authenticated_command_accepted_once_then_refused_as_replay_and_arsn_stored():
    stored = []
    rig = Rig(keys={7: KEY}, persist=stored.append)
    rig.transport.connect(1)
    body = sdls.wrap(noop(5), 7, 1, KEY)
    rig.transport.send(1, frame(body))
    rig.cycle()
    rig.transport.send(1, frame(body))
    rig.cycle()
    assert rig.acks() == [(0, 5, ACCEPTED, 0), (0, 5, COMPLETED, 0), (0, 5, REJECTED, REASON["REPLAY"])]
    assert stored == [{7: 1}]


def test_arsn_state_from_a_previous_run_refuses_old_frames():
    rig = Rig(keys={7: KEY}, last_arsn={7: 10})
    rig.transport.connect(1)
    rig.transport.send(1, frame(sdls.wrap(noop(5), 7, 10, KEY)))
    rig.transport.send(1, frame(sdls.wrap(noop(6), 7, 11, KEY)))
    rig.cycle()
    assert rig.app.rejected["REPLAY"] == 1 and rig.app.totals["tc_accepted"] == 1


def test_a_flood_beyond_the_per_cycle_limit_is_refused_unchecked_and_counted():
    rig = Rig(keys={7: KEY})
    rig.transport.connect(1)
    limit = rig.app.tc_per_cycle
    rig.transport.send(1, b"".join(frame(sdls.wrap(noop(n), 7, n, bytes(32))) for n in range(1, limit + 11)))
    rig.cycle()
    assert rig.app.rejected["BAD_MAC"] == limit
    assert rig.app.rejected["RATE_LIMITED"] == 10
    # only the first few rejections are acknowledged; the rest are counted
    assert len(rig.acks()) == rig.app.acks_per_cycle
    assert rig.app.totals["acks_suppressed"] == limit + 10 - rig.app.acks_per_cycle


def test_client_that_never_reads_loses_its_oldest_packets_and_others_get_everything():
    rig = Rig(queue_packets=8)
    rig.transport.connect(1)
    rig.transport.connect(2)
    rig.transport.accept[2] = 0  # never reads
    rig.cycle()
    for n in range(50):
        rig.downlink.send_values("CMD_ACK", 0, (0x180, 0, n, ACCEPTED, 0))
        rig.cycle()
    got = Deframer().feed(bytes(rig.transport.written[1])).packets
    assert got == rig.packets and rig.app.clients[1].queue.dropped == 0
    slow = rig.app.clients[2].queue
    assert len(slow) == 8 and slow.dropped == len(rig.packets) - 8


def test_partly_written_frame_is_finished_before_anything_else_so_the_stream_stays_framed():
    rig = Rig(queue_packets=4)
    rig.transport.connect(1)
    rig.transport.accept[1] = 5
    rig.cycle()
    for n in range(20):
        rig.downlink.send_values("CMD_ACK", 0, (0x180, 0, n, ACCEPTED, 0))
        rig.cycle()
    rig.transport.accept[1] = 1 << 20
    rig.cycle()
    d = Deframer()
    got = d.feed(bytes(rig.transport.written[1])).packets
    assert got and d.stats.crc_errors == 0 and d.stats.bytes_skipped == 0
    assert rig.app.clients[1].queue.dropped > 0


def test_clients_beyond_the_limit_are_refused_and_counted():
    rig = Rig(max_clients=2)
    for cid in (1, 2, 3):
        rig.transport.connect(cid)
    rig.cycle()
    assert sorted(rig.app.clients) == [1, 2]
    assert rig.app.totals["clients_refused"] == 1 and rig.transport.dropped == [3]


def test_closed_client_totals_are_kept():
    rig = Rig()
    rig.transport.connect(1)
    rig.cycle()
    rig.downlink.send_values("CMD_ACK", 0, (0x180, 0, 1, ACCEPTED, 0))
    rig.cycle()
    rig.transport.closed.append(1)
    rig.cycle()
    s = rig.app.summary()
    assert s["clients"] == 0 and s["clients_total"] == 1 and s["frames_out"] >= 1
    assert s["client_list"][0]["closed_s"] is not None


def test_ground_link_packet_carries_the_counters_once_per_second():
    rig = Rig(keys={7: KEY})
    rig.transport.connect(1)
    rig.transport.send(1, frame(noop(1)) + b"\x00garbage")
    for _ in range(10):
        rig.cycle()
    stats = [decode_tm(p)[3] for p in rig.packets if decode_tm(p)[0] == "GROUND_LINK"]
    assert len(stats) == 1
    from telemetry.dictionary import TM_BY_NAME
    fields = dict(zip((f.name for f in TM_BY_NAME["GROUND_LINK"].fields), stats[0], strict=True))
    assert fields["clients"] == 1 and fields["frames_in"] == 1 and fields["rej_unauthenticated"] == 1
    assert fields["bytes_in"] == len(frame(noop(1))) + 8


def test_datagram_link_tells_plain_wrapped_and_malformed_apart():
    rig = Rig(keys={7: KEY}, framed=False)
    rig.transport.connect(0)
    for body in (noop(1), sdls.wrap(noop(2), 7, 1, KEY), b"\x01\x02\x03"):
        rig.transport.send(0, body)
    rig.cycle()
    assert rig.app.rejected["UNAUTHENTICATED"] == 1 and rig.app.rejected["MALFORMED"] == 1
    assert rig.app.totals["tc_accepted"] == 1
    # telemetry goes out one packet per datagram, unframed
    assert bytes(rig.transport.written[0]).startswith(rig.packets[0])


def test_arsn_store_failure_is_an_event_not_a_stop():
    def broken(state):
        raise OSError(28, "No space left on device")
    rig = Rig(keys={7: KEY}, persist=broken)
    rig.transport.connect(1)
    rig.transport.send(1, frame(sdls.wrap(noop(1), 7, 1, KEY)))
    rig.cycle()
    assert rig.app.totals["arsn_store_errors"] == 1 and rig.app.totals["tc_accepted"] == 1


def test_unpaced_sil_serves_the_link_once_every_n_cycles():
    rig = Rig()
    rig.app.service_every = 10
    rig.transport.connect(1)
    for _ in range(9):
        rig.cycle()
    assert not rig.app.clients  # not served yet
    rig.cycle()
    assert list(rig.app.clients) == [1]
    first = len(rig.packets)
    for _ in range(9):
        rig.downlink.send_values("CMD_ACK", 0, (0x180, 0, 1, ACCEPTED, 0))
        rig.cycle()
    assert not rig.transport.written[1]
    rig.cycle()
    assert Deframer().feed(bytes(rig.transport.written[1])).packets == rig.packets[first:]
