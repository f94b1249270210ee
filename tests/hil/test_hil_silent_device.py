"""A HIL run that received no device packet is not a success: without a handshake it stops at the connect
timeout, writes its summary and exits 1 with a line saying so."""

from __future__ import annotations

import json
import os
import sys

import pytest

from ground.cli import main

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminals of Linux")


def test_run_without_device_packets_stops_at_the_connect_timeout_and_exits_1(tmp_path, capsys):
    master, slave = os.openpty()
    out = tmp_path / "run"
    try:
        rc = main(["hil", "--port", os.ttyname(slave), "--no-handshake", "--scenario", "final_approach",
                   "--connect-timeout", "1", "--duration", "30", "--no-report", "--no-progress", "--out", str(out)])
    finally:
        os.close(slave)
        os.close(master)
    err = capsys.readouterr().err
    assert rc == 1
    assert "no device packet was received" in err and "not a success" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stop_reason"] == "no device packet within the 1 s connect timeout"
    assert summary["mission_time_s"] < 5 and summary["hil"]["device_packets_rx"] == 0
