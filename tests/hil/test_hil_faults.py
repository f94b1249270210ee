"""A faulty line in real time over a pty pair, two processes: bit errors 1e-5, dropped bytes, a 2 s silent line.

The emulator archives every sensor packet it sends before the line corrupts it (``bench_tx.ccsds``) and the
flight side every packet it accepts (``device_rx.ccsds``), so what reached the apps can be checked packet by
packet against what the devices sent.
"""

from __future__ import annotations

import sys
from collections import defaultdict

import pytest

from hal.devices import SENSORS
from sims.hil import run_pty_pair
from telemetry.archive import decode_apid
from telemetry.codec import peek_apid
from telemetry.framing import Deframer

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminals of Linux")
DURATION_S = 12.0
OUTAGE = (4.0, 2.0)  # [s] after the handshake, for how long
FAULTS = ["--bit-error-rate", "1e-5", "--drop-rate", "2e-5", "--disconnect", f"{OUTAGE[0]}:{OUTAGE[1]}",
          "--fault-seed", "7"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("hil_faults") / "run"
    summary = run_pty_pair("final_approach", out, lockstep=False, duration_s=DURATION_S, bench_args=FAULTS,
                           progress=False, record=True)
    return out, summary


def _packets(path) -> list[bytes]:
    return Deframer().feed(path.read_bytes()).packets


def test_run_goes_on_through_the_faults(run):
    _, s = run
    assert s["stop_reason"] == "duration"
    assert s["mission_time_s"] == pytest.approx(DURATION_S, abs=0.1)
    assert s["timing"]["failed_tasks"] == []


def test_line_really_corrupted_frames_and_swallowed_the_outage(run):
    _, s = run
    line = s["bench"]["line"]
    assert line["frames_corrupted"] > 0
    assert line["frames_lost"] > 150          # ~2 s of 100 Hz gyro packets alone


def test_no_corrupted_packet_reaches_an_app(run):
    out, _ = run
    sent = set(_packets(out / "bench_tx.ccsds"))
    accepted = _packets(out / "device_rx.ccsds")
    assert accepted and all(p in sent for p in accepted)


def test_every_corrupted_frame_is_rejected_and_counted(run):
    out, s = run
    link = s["hil"]["links"][0]
    line = s["bench"]["line"]
    assert link["crc_errors"] + link["bad_headers"] + link["resyncs"] > 0
    # a corrupted frame that is not delivered is a gap in its APID's sequence count, exactly
    sent, accepted = defaultdict(list), defaultdict(set)
    for p in _packets(out / "bench_tx.ccsds"):
        sent[peek_apid(p)].append(p)
    for p in _packets(out / "device_rx.ccsds"):
        accepted[peek_apid(p)].add(p)
    expected_gaps = 0
    for apid, packets in sent.items():
        got = [i for i, p in enumerate(packets) if p in accepted[apid]]
        if got:
            expected_gaps += sum(1 for p in packets[got[0]:got[-1]] if p not in accepted[apid])
    assert link["gaps"] == expected_gaps
    assert expected_gaps >= line["frames_lost"] - 50   # the outage (minus the packets after the last one received)


def test_link_recovers_after_the_outage(run):
    out, _ = run
    stats = decode_apid(out / "telemetry.ccsds", "LINK_STATS")
    frames = stats["frames_rx"]
    assert frames[-1] - frames[-3] > 150      # packets flow again in the last seconds
    assert stats["reconnects"][-1] == 0       # a silent line is not a lost port


def test_stale_mask_sees_the_devices_during_the_outage(run):
    out, s = run
    gyro = 1 << SENSORS.index("DEV_GYRO")
    masks = decode_apid(out / "telemetry.ccsds", "LINK_STATS")["stale_mask"]
    assert any(m & gyro for m in masks)
    assert not masks[-1] & gyro               # fresh again at the end
    assert s["hil"]["stale_frames"]["DEV_GYRO"] > 100
    log = (out / "link.log").read_text()
    assert "DEV_GYRO" in log


def test_fdir_sees_the_stale_gyro_when_it_flies(run):
    out, s = run
    if "fdir" not in s["timing"]["tasks"]:
        pytest.skip("the FDIR app is not in this topology yet")
    assert "gyro data stale" in (out / "events.log").read_text()
