"""Line faults in lockstep are honoured, in wall seconds after the handshake: a silent line stalls the lockstep
frames until it speaks again, and the run goes on to its end."""

from __future__ import annotations

import sys

import pytest

from sims.hil import run_pty_pair

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminals of Linux")
DURATION_S = 20.0


def test_silent_line_in_lockstep_stalls_the_frames_and_the_run_goes_on(tmp_path):
    s = run_pty_pair("final_approach", tmp_path / "run", lockstep=True, duration_s=DURATION_S, progress=False,
                     bench_args=["--disconnect", "0.02:1.0"])
    assert s["stop_reason"] == "duration" and s["mission_time_s"] == pytest.approx(DURATION_S, abs=0.1)
    assert s["bench"]["line"]["bytes_lost_rx"] > 0          # the flight's ticks were swallowed for 1 s
    assert s["wall_time_s"] > 1.0                           # the lockstep waited for the line
    assert s["hil"]["device_packets_rx"] > 0 and s["timing"]["cycle_slips"] == 0
